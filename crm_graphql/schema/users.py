"""Types, inputs and payloads of the users domain: users, profiles, groups, assignments."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.permission import PermissionExtension

from crm_graphql.context import Info
from crm_graphql.models.companies import Company
from crm_graphql.models.users import PERMISSION_BITS, Assignment, Group, Profile, User, UserMode
from crm_graphql.permissions.companies import company_ids_seen_by
from crm_graphql.permissions.users import SelfOrUserManager
from crm_graphql.schema.common import (
    BooleanFilter,
    CompanyRefFilter,
    Connection,
    DateTimeFilter,
    IDFilter,
    SortDirection,
    StringFilter,
    UserError,
    nested_connection,
)
from crm_graphql.schema.companies import CompanyType
from crm_graphql.services.listing import FilterSpec, Relation, SortKey


@strawberry.enum(
    description=(
        "A permission bit. CR/CW/CM: view/edit/manage companies, contacts and contracts. "
        "IR/IW/IM: invoices. LR/LW/LM: leads. UM: user management. FM: setup management."
    )
)
class PermissionBit(Enum):
    # One member per models.users.PERMISSION_BITS, in its order (a test compares them).
    CR = strawberry.enum_value("CR", description="View companies, contacts and contracts.")
    CW = strawberry.enum_value("CW", description="Edit companies, contacts and contracts.")
    CM = strawberry.enum_value(
        "CM", description="Manage companies, contacts and contracts (colleagues' too)."
    )
    IR = strawberry.enum_value("IR", description="View invoices.")
    IW = strawberry.enum_value("IW", description="Create and edit invoices.")
    IM = strawberry.enum_value("IM", description="Manage invoices: unlock, delete.")
    LR = strawberry.enum_value("LR", description="View leads.")
    LW = strawberry.enum_value("LW", description="Create and edit leads.")
    LM = strawberry.enum_value("LM", description="Manage leads (anyone's).")
    UM = strawberry.enum_value("UM", description="Manage users and profiles.")
    FM = strawberry.enum_value("FM", description="Manage setup; read the audit log.")


@strawberry.enum(name="UserMode", description="How a user relates to companies.")
class UserModeEnum(Enum):
    GROUPED = strawberry.enum_value(UserMode.GROUPED.value, description="A normal user.")
    STANDALONE = strawberry.enum_value(
        UserMode.STANDALONE.value, description="An external user who sees only their company."
    )


@strawberry.type(name="Profile", description="A named set of permission bits.")
class ProfileType:
    id: strawberry.ID = strawberry.field(description="Profile id.")
    name: str = strawberry.field(description="Profile name (unique).")
    description: str = strawberry.field(description="What the profile is for.")
    version: int = strawberry.field(description="Changes on every update (optimistic locking).")

    @strawberry.field(description="The bits this profile grants.")
    def permissions(self, root: strawberry.Parent[Profile]) -> list[PermissionBit]:
        return [PermissionBit[bit] for bit in root.bits()]


@strawberry.type(name="Group", description="A group users are assigned profiles in.")
class GroupType:
    id: strawberry.ID = strawberry.field(description="Group id.")
    name: str = strawberry.field(description="Group name (unique).")
    description: str = strawberry.field(description="What the group is for.")


@strawberry.type(name="Assignment", description="A user holds a profile in a group.")
class AssignmentType:
    id: strawberry.ID = strawberry.field(description="Assignment id.")
    created_at: datetime = strawberry.field(description="When the profile was assigned.")

    @strawberry.field(description="The profile granted.", graphql_type=ProfileType)
    async def profile(self, root: strawberry.Parent[Assignment], info: Info) -> Profile | None:
        return await info.context.loaders.users.profile.load(root.profile_id)

    @strawberry.field(description="The group the profile is granted in.", graphql_type=GroupType)
    async def group(self, root: strawberry.Parent[Assignment], info: Info) -> Group | None:
        return await info.context.loaders.users.group.load(root.group_id)


@strawberry.type(name="User", description="A person who logs in to the CRM.")
class UserType:
    id: strawberry.ID = strawberry.field(description="User id.")
    username: str = strawberry.field(description="Login name (unique).")
    real_name: str = strawberry.field(description="Full name.")
    email: str = strawberry.field(description="E-mail address.")
    phone: str = strawberry.field(description="Phone number.")
    employee_number: str = strawberry.field(description="Employee number.")
    location: str = strawberry.field(description="Office or location.")
    language: str = strawberry.field(description="Preferred language code (en, es, ...).")
    mode: UserModeEnum = strawberry.field(description="GROUPED or STANDALONE.")
    is_superadmin: bool = strawberry.field(description="Superadmins may do everything.")
    enabled: bool = strawberry.field(description="Disabled users cannot use the API.")
    login_enabled: bool = strawberry.field(description="False: the user cannot log in.")
    created_at: datetime = strawberry.field(description="When the user was created.")
    updated_at: datetime = strawberry.field(description="Last change.")
    version: int = strawberry.field(description="Changes on every update (optimistic locking).")

    @strawberry.field(
        description="The company the user belongs to; null when you cannot see it (the "
        "company access rule applies here too).",
        graphql_type=CompanyType | None,
    )
    async def company(self, root: strawberry.Parent[User], info: Info) -> Company | None:
        if root.company_id is None:
            return None
        return await info.context.loaders.companies.company.load(root.company_id)

    @strawberry.field(
        description="Effective permission bits: the union over the user's assignments "
        "(every bit for a superadmin). Yourself, or with UM.",
        extensions=[PermissionExtension(permissions=[SelfOrUserManager()])],
    )
    async def permissions(self, root: strawberry.Parent[User], info: Info) -> list[PermissionBit]:
        if root.is_superadmin:
            return [PermissionBit[bit] for bit in PERMISSION_BITS]
        bits = await info.context.loaders.users.bits.load(root.id)
        return [PermissionBit[bit] for bit in PERMISSION_BITS if bit in bits]

    @strawberry.field(
        description="The user's profile assignments, first ones by id. Yourself, or with UM.",
        extensions=[PermissionExtension(permissions=[SelfOrUserManager()])],
    )
    async def assignments(
        self,
        root: strawberry.Parent[User],
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(description="How many (default and cap: nested page limits)."),
        ] = None,
    ) -> Connection[AssignmentType]:
        loaders = info.context.loaders.users
        return await nested_connection(
            info, loaders.assignments, loaders.assignment_count, root.id, first, [SortKey("id")]
        )


@strawberry.input(description="Conditions on users; all given conditions must hold.")
class UserFilter:
    id: IDFilter | None = strawberry.field(default=strawberry.UNSET, description="User id.")
    username: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Login name."
    )
    real_name: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Full name."
    )
    email: StringFilter | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    language: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Language code."
    )
    mode: StringFilter | None = strawberry.field(
        default=strawberry.UNSET, description="GROUPED or STANDALONE."
    )
    is_superadmin: BooleanFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Superadmin flag."
    )
    enabled: BooleanFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Enabled flag."
    )
    created_at: DateTimeFilter | None = strawberry.field(
        default=strawberry.UNSET, description="Creation time."
    )
    company: CompanyRefFilter | None = strawberry.field(
        default=strawberry.UNSET, description="The company the user belongs to."
    )
    and_: list[UserFilter] | None = strawberry.field(
        name="and", default=strawberry.UNSET, description="All of these hold."
    )
    or_: list[UserFilter] | None = strawberry.field(
        name="or", default=strawberry.UNSET, description="At least one of these holds."
    )
    not_: UserFilter | None = strawberry.field(
        name="not", default=strawberry.UNSET, description="This does not hold."
    )


COMPANY_REF_SPEC: FilterSpec = {"id": "id", "name": "name"}
USER_FILTER_SPEC: FilterSpec = {
    "id": "id",
    "username": "username",
    "real_name": "real_name",
    "email": "email",
    "language": "language",
    "mode": "mode",
    "is_superadmin": "is_superadmin",
    "enabled": "enabled",
    "created_at": "created_at",
    "company": Relation("company", COMPANY_REF_SPEC, visible=company_ids_seen_by),
}


@strawberry.enum(description="Columns users can be sorted by.")
class UserOrderField(Enum):
    ID = strawberry.enum_value("id", description="User id.")
    USERNAME = strawberry.enum_value("username", description="Login name.")
    REAL_NAME = strawberry.enum_value("real_name", description="Full name.")
    CREATED_AT = strawberry.enum_value("created_at", description="Creation time.")


@strawberry.input(description="One sort key; later keys break ties, then the id.")
class UserOrder:
    field: UserOrderField = strawberry.field(description="Column.")
    direction: SortDirection = strawberry.field(default=SortDirection.ASC, description="Direction.")


@strawberry.input(description="A new user.")
class UserCreateInput:
    username: str = strawberry.field(description="Login name (unique).")
    password: str = strawberry.field(description="Initial password (at least 8 characters).")
    real_name: str = strawberry.field(default="", description="Full name.")
    email: str = strawberry.field(default="", description="E-mail address.")
    phone: str = strawberry.field(default="", description="Phone number.")
    employee_number: str = strawberry.field(default="", description="Employee number.")
    location: str = strawberry.field(default="", description="Office or location.")
    language: str = strawberry.field(default="en", description="Language code.")
    company_id: strawberry.ID | None = strawberry.field(
        default=None, description="The company the user belongs to."
    )
    mode: UserModeEnum = strawberry.field(
        default=UserModeEnum.GROUPED, description="GROUPED or STANDALONE."
    )
    is_superadmin: bool = strawberry.field(
        default=False, description="Superadmin flag (only a superadmin may set it)."
    )
    enabled: bool = strawberry.field(default=True, description="Enabled flag.")
    login_enabled: bool = strawberry.field(default=True, description="May log in.")


@strawberry.input(description="Changes to a user; omitted fields stay as they are.")
class UserUpdateInput:
    id: strawberry.ID = strawberry.field(description="The user to change.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="The version you read; the update is refused when it changed since.",
    )
    password: str | None = strawberry.field(default=strawberry.UNSET, description="New password.")
    real_name: str | None = strawberry.field(default=strawberry.UNSET, description="Full name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="E-mail address.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="Phone number.")
    employee_number: str | None = strawberry.field(
        default=strawberry.UNSET, description="Employee number."
    )
    location: str | None = strawberry.field(
        default=strawberry.UNSET, description="Office or location."
    )
    language: str | None = strawberry.field(default=strawberry.UNSET, description="Language code.")
    company_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Company; null for none."
    )
    mode: UserModeEnum | None = strawberry.field(
        default=strawberry.UNSET, description="GROUPED or STANDALONE."
    )
    is_superadmin: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Superadmin flag (only a superadmin may set it)."
    )
    enabled: bool | None = strawberry.field(default=strawberry.UNSET, description="Enabled flag.")
    login_enabled: bool | None = strawberry.field(
        default=strawberry.UNSET, description="May log in."
    )


@strawberry.type(description="Result of userCreate.")
class UserCreatePayload:
    user: User | None = strawberry.field(
        graphql_type=UserType | None, description="The new user, when created."
    )
    errors: list[UserError] = strawberry.field(description="Why it was not created.")


@strawberry.type(description="Result of userUpdate.")
class UserUpdatePayload:
    user: User | None = strawberry.field(
        graphql_type=UserType | None, description="The user as changed."
    )
    errors: list[UserError] = strawberry.field(description="Why it was not changed.")


@strawberry.input(description="A new profile.")
class ProfileCreateInput:
    name: str = strawberry.field(description="Profile name (unique).")
    description: str = strawberry.field(default="", description="What it is for.")
    permissions: list[PermissionBit] = strawberry.field(
        default_factory=list, description="Bits the profile grants."
    )


@strawberry.input(description="Changes to a profile; omitted fields stay as they are.")
class ProfileUpdateInput:
    id: strawberry.ID = strawberry.field(description="The profile to change.")
    version: int | None = strawberry.field(
        default=strawberry.UNSET, description="The version you read."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="New description."
    )
    permissions: list[PermissionBit] | None = strawberry.field(
        default=strawberry.UNSET, description="The complete new set of bits."
    )


@strawberry.type(description="Result of a profile mutation.")
class ProfilePayload:
    profile: Profile | None = strawberry.field(
        graphql_type=ProfileType | None, description="The profile."
    )
    errors: list[UserError] = strawberry.field(description="Why the change was refused.")


@strawberry.input(description="A new group.")
class GroupCreateInput:
    name: str = strawberry.field(description="Group name (unique).")
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.type(description="Result of a group mutation.")
class GroupPayload:
    group: Group | None = strawberry.field(graphql_type=GroupType | None, description="The group.")
    errors: list[UserError] = strawberry.field(description="Why the change was refused.")


@strawberry.input(description="Give a user a profile in a group.")
class AssignmentCreateInput:
    user_id: strawberry.ID = strawberry.field(description="The user.")
    profile_id: strawberry.ID = strawberry.field(description="The profile.")
    group_id: strawberry.ID | None = strawberry.field(
        default=None, description='The group; default "All".'
    )


@strawberry.type(description="Result of assignmentCreate.")
class AssignmentPayload:
    assignment: Assignment | None = strawberry.field(
        graphql_type=AssignmentType | None, description="The assignment."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused.")
