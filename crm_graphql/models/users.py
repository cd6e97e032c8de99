"""Users, profiles (sets of permission bits), groups and assignments (SPEC §1)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from crm_graphql.models.companies import Company

# The permission bits, in display order. Each is a boolean column on Profile.
PERMISSION_BITS: tuple[str, ...] = (
    "CR",
    "CW",
    "CM",
    "IR",
    "IW",
    "IM",
    "LR",
    "LW",
    "LM",
    "UM",
    "FM",
)


class UserMode(StrEnum):
    GROUPED = "GROUPED"
    STANDALONE = "STANDALONE"


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=60, unique=True)
    real_name = fields.CharField(max_length=200, default="")
    email = fields.CharField(max_length=254, default="")
    phone = fields.CharField(max_length=60, default="")
    employee_number = fields.CharField(max_length=60, default="")
    location = fields.CharField(max_length=200, default="")
    language = fields.CharField(max_length=10, default="en")
    company: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "crm.Company", related_name="members", null=True, on_delete=fields.SET_NULL
    )
    mode = fields.CharEnumField(UserMode, max_length=12, default=UserMode.GROUPED)
    is_superadmin = fields.BooleanField(default=False)
    enabled = fields.BooleanField(default=True)
    login_enabled = fields.BooleanField(default=True)
    password_hash = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    version = fields.IntField(default=1)

    company_id: int | None

    class Meta:
        table = "users"
        ordering = ["id"]


class Profile(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=255, default="")
    cr = fields.BooleanField(default=False)
    cw = fields.BooleanField(default=False)
    cm = fields.BooleanField(default=False)
    ir = fields.BooleanField(default=False)
    iw = fields.BooleanField(default=False)
    im = fields.BooleanField(default=False)
    lr = fields.BooleanField(default=False)
    lw = fields.BooleanField(default=False)
    lm = fields.BooleanField(default=False)
    um = fields.BooleanField(default=False)
    fm = fields.BooleanField(default=False)
    version = fields.IntField(default=1)

    class Meta:
        table = "profiles"
        ordering = ["id"]

    def bits(self) -> list[str]:
        return [bit for bit in PERMISSION_BITS if getattr(self, bit.lower())]


class Group(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=255, default="")

    class Meta:
        table = "groups"
        ordering = ["id"]


class Assignment(Model):
    """A user holds a profile in a group. A bit counts when any assignment grants it."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "crm.User", related_name="assignments", on_delete=fields.CASCADE
    )
    profile: fields.ForeignKeyRelation[Profile] = fields.ForeignKeyField(
        "crm.Profile", related_name="assignments", on_delete=fields.CASCADE
    )
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "crm.Group", related_name="assignments", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int
    profile_id: int
    group_id: int

    class Meta:
        table = "assignments"
        unique_together = (("user", "profile", "group"),)
        ordering = ["id"]
