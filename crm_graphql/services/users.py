"""Managing users, profiles, groups and assignments. Callers run these inside one
transaction (services.mutations.atomic) and have already checked the caller's bits;
the rules that depend on the target (superadmin accounts) are checked here."""

from __future__ import annotations

import re
from typing import Any

from tortoise.models import Model

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.ids import parse_id
from crm_graphql.models.companies import Company
from crm_graphql.models.users import PERMISSION_BITS, Assignment, Group, Profile, User, UserMode
from crm_graphql.services import audit
from crm_graphql.services.auth import Viewer, forget_tokens
from crm_graphql.services.bootstrap import DEFAULT_GROUP
from crm_graphql.services.mutations import check_version, save_versioned, unique_name
from crm_graphql.services.passwords import hash_password_async, validate_password
from crm_graphql.values import is_email, is_language_tag

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,60}$")
_USER_TEXT_LIMITS = {
    "real_name": 200,
    "phone": 60,
    "employee_number": 60,
    "location": 200,
}


async def _get(model: type[Model], value: Any, field: str) -> Any:
    obj = await model.filter(id=parse_id(value, field)).first()
    if obj is None:
        raise FieldError(
            field, ErrorCode.NOT_FOUND, f"No {model.__name__.lower()} with id {value}."
        )
    return obj


def _validate_user_fields(data: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    if "username" in data and not USERNAME_RE.match(data["username"] or ""):
        errors.append(
            FieldError(
                "username",
                ErrorCode.INVALID,
                "Username: 1 to 60 letters, digits or . _ @ - characters.",
            )
        )
    if data.get("email") and not is_email(data["email"]):
        errors.append(FieldError("email", ErrorCode.INVALID, "Not a valid e-mail address."))
    if "language" in data and not is_language_tag(data["language"]):
        errors.append(
            FieldError("language", ErrorCode.INVALID, "Use a language code such as en or es.")
        )
    if "password" in data and (reason := validate_password(data["password"])):
        errors.append(FieldError("password", ErrorCode.INVALID, reason))
    for name, limit in _USER_TEXT_LIMITS.items():
        if len(data.get(name) or "") > limit:
            errors.append(
                FieldError(_camel(name), ErrorCode.TOO_LARGE, f"At most {limit} characters.")
            )
    return errors


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


async def _resolve_company(data: dict[str, Any]) -> None:
    if "company_id" in data:
        raw = data.pop("company_id")
        data["company_id"] = (await _get(Company, raw, "companyId")).id if raw else None


async def create_user(actor: Viewer, data: dict[str, Any], request_id: str = "") -> User:
    errors = _validate_user_fields(data)
    if data.get("is_superadmin") and not actor.is_superadmin:
        errors.append(
            FieldError("isSuperadmin", ErrorCode.FORBIDDEN, "Only a superadmin may set this.")
        )
    if await User.filter(username=data.get("username", "")).exists():
        errors.append(FieldError("username", ErrorCode.UNIQUE, "This username is taken."))
    if errors:
        raise PayloadErrors(errors)
    await _resolve_company(data)
    password = data.pop("password")
    data["mode"] = UserMode(data.get("mode", UserMode.GROUPED))
    user = await User.create(**data, password_hash=await hash_password_async(password))
    await audit.record(actor.user, audit.CREATE, "User", user.id, audit.snapshot(user), request_id)
    return user


async def update_user(
    actor: Viewer, target: User, data: dict[str, Any], request_id: str = ""
) -> User:
    check_version(target, data, "user")
    errors = _validate_user_fields(data)
    if "is_superadmin" in data and not actor.is_superadmin:
        errors.append(
            FieldError("isSuperadmin", ErrorCode.FORBIDDEN, "Only a superadmin may set this.")
        )
    if errors:
        raise PayloadErrors(errors)
    await _resolve_company(data)
    before = audit.snapshot(target)
    forget_tokens()  # enabled, mode, company, superadmin or password may change
    if "password" in data:
        target.password_hash = await hash_password_async(data.pop("password"))
    for name, value in data.items():
        setattr(target, name, UserMode(value) if name == "mode" else value)
    await save_versioned(target, "user")
    changes = audit.diff(before, audit.snapshot(target))
    await audit.record(actor.user, audit.UPDATE, "User", target.id, changes, request_id)
    return target


async def delete_user(actor: Viewer, target: User, request_id: str = "") -> None:
    if target.id == actor.user.id:
        raise FieldError("id", ErrorCode.CONFLICT, "You cannot delete your own account.")
    await audit.record(
        actor.user, audit.DELETE, "User", target.id, audit.snapshot(target), request_id
    )
    forget_tokens()
    await target.delete()


def _bits_columns(bits: list[str]) -> dict[str, Any]:
    """The profile's permission columns (one bool per bit), as keyword arguments."""
    wanted = set(bits)
    return {bit.lower(): bit in wanted for bit in PERMISSION_BITS}


async def create_profile(
    actor: Viewer, name: str, description: str, bits: list[str], request_id: str = ""
) -> Profile:
    name = await unique_name(Profile, name)
    profile = await Profile.create(name=name, description=description, **_bits_columns(bits))
    await audit.record(
        actor.user, audit.CREATE, "Profile", profile.id, audit.snapshot(profile), request_id
    )
    return profile


async def update_profile(
    actor: Viewer, profile: Profile, data: dict[str, Any], request_id: str = ""
) -> Profile:
    check_version(profile, data, "profile")
    before = audit.snapshot(profile)
    if "name" in data:
        profile.name = await unique_name(Profile, data["name"] or "", exclude_id=profile.id)
    forget_tokens()  # the bits of everyone holding the profile may change
    if "description" in data:
        profile.description = data["description"]
    if "permissions" in data:
        for column, value in _bits_columns(data["permissions"]).items():
            setattr(profile, column, value)
    await save_versioned(profile, "profile")
    changes = audit.diff(before, audit.snapshot(profile))
    await audit.record(actor.user, audit.UPDATE, "Profile", profile.id, changes, request_id)
    return profile


async def delete_profile(actor: Viewer, profile: Profile, request_id: str = "") -> None:
    if await Assignment.filter(profile_id=profile.id).exists():
        raise FieldError(
            "id", ErrorCode.CONFLICT, "The profile is assigned to users; unassign it first."
        )
    await audit.record(
        actor.user, audit.DELETE, "Profile", profile.id, audit.snapshot(profile), request_id
    )
    await profile.delete()


async def create_group(actor: Viewer, name: str, description: str, request_id: str = "") -> Group:
    name = await unique_name(Group, name)
    group = await Group.create(name=name, description=description)
    await audit.record(
        actor.user, audit.CREATE, "Group", group.id, audit.snapshot(group), request_id
    )
    return group


async def delete_group(actor: Viewer, group: Group, request_id: str = "") -> None:
    if group.name == DEFAULT_GROUP:
        raise FieldError("id", ErrorCode.CONFLICT, 'The group "All" cannot be deleted.')
    await audit.record(
        actor.user, audit.DELETE, "Group", group.id, audit.snapshot(group), request_id
    )
    await group.delete()


async def create_assignment(
    actor: Viewer, user: User, profile_ref: Any, group_ref: Any, request_id: str = ""
) -> Assignment:
    profile = await _get(Profile, profile_ref, "profileId")
    if group_ref:
        group = await _get(Group, group_ref, "groupId")
    else:
        group = await Group.get(name=DEFAULT_GROUP)
    if await Assignment.filter(user_id=user.id, profile_id=profile.id, group_id=group.id).exists():
        raise FieldError(
            "profileId", ErrorCode.UNIQUE, "The user already holds this profile there."
        )
    forget_tokens()
    assignment = await Assignment.create(user_id=user.id, profile_id=profile.id, group_id=group.id)
    await audit.record(
        actor.user,
        audit.CREATE,
        "Assignment",
        assignment.id,
        {"user_id": user.id, "profile_id": profile.id, "group_id": group.id},
        request_id,
    )
    return assignment


async def delete_assignment(actor: Viewer, assignment: Assignment, request_id: str = "") -> None:
    await audit.record(
        actor.user,
        audit.DELETE,
        "Assignment",
        assignment.id,
        audit.snapshot(assignment),
        request_id,
    )
    forget_tokens()
    await assignment.delete()


get_object = _get
