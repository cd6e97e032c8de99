"""Users, profiles, groups and assignments: lists need `UM`, as do all changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.users import Assignment, Group, Profile, User
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.users import can_manage_user, visible_users_q
from crm_graphql.resolvers.common import connection, get_or_404, input_fields
from crm_graphql.schema.common import Connection, DeletePayload, user_errors
from crm_graphql.schema.users import (
    USER_FILTER_SPEC,
    AssignmentCreateInput,
    AssignmentPayload,
    GroupCreateInput,
    GroupPayload,
    GroupType,
    ProfileCreateInput,
    ProfilePayload,
    ProfileType,
    ProfileUpdateInput,
    UserCreateInput,
    UserCreatePayload,
    UserFilter,
    UserOrder,
    UserType,
    UserUpdateInput,
    UserUpdatePayload,
)
from crm_graphql.services import users as service
from crm_graphql.services.mutations import atomic, refuse_nulls

T = TypeVar("T")


def _enum_values(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in data.items()}


async def _managed_user(info: Info, user_id: Any, field: str = "id") -> User:
    viewer = info.context.require_viewer()
    target = await service.get_object(User, user_id, field)
    if not can_manage_user(viewer, target):
        raise info.context.deny(f"User {target.id}", "superadmin account")
    return target


async def _run(work: Callable[[], Awaitable[T]]) -> tuple[T | None, list[Any]]:
    result, errors = await atomic(work)
    return result, user_errors(errors)


@strawberry.type
class UsersQuery:
    @strawberry.field(
        description="Users, filtered and sorted, a page at a time. Needs `UM`.",
        extensions=auth("UM"),
    )
    async def users(
        self,
        info: Info,
        filter: Annotated[UserFilter | None, strawberry.argument(description="Conditions.")] = None,
        order_by: Annotated[
            list[UserOrder] | None,
            strawberry.argument(description="Sort keys; the id always breaks ties."),
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (default 20, at most 100).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the row before the page.")
        ] = None,
    ) -> Connection[UserType]:
        viewer = info.context.require_viewer()
        return await connection(
            info,
            User.filter(visible_users_q(viewer)),
            flt=filter,
            spec=USER_FILTER_SPEC,
            order_by=order_by,
            first=first,
            after=after,
        )

    @strawberry.field(description="One user. Needs `UM`.", extensions=auth("UM"))
    async def user(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> UserType:
        viewer = info.context.require_viewer()
        return await get_or_404(User, User.filter(visible_users_q(viewer)), id)

    @strawberry.field(
        description="Every profile. Needs `UM`.",
        extensions=auth("UM"),
        graphql_type=list[ProfileType],
    )
    async def profiles(self, info: Info) -> list[Profile]:
        return await Profile.all().order_by("id")

    @strawberry.field(
        description="Every group. Needs `UM`.", extensions=auth("UM"), graphql_type=list[GroupType]
    )
    async def groups(self, info: Info) -> list[Group]:
        return await Group.all().order_by("id")


@strawberry.type
class UsersMutation:
    @strawberry.mutation(description="Create a user. Needs `UM`.", extensions=auth("UM"))
    async def user_create(
        self,
        info: Info,
        input: Annotated[UserCreateInput, strawberry.argument(description="The values.")],
    ) -> UserCreatePayload:
        viewer = info.context.require_viewer()
        data = _enum_values(input_fields(input))
        user, errors = await _run(
            lambda: service.create_user(viewer, data, info.context.request_id)
        )
        return UserCreatePayload(user=user, errors=errors)

    @strawberry.mutation(
        description="Change a user. Needs `UM`; a superadmin account only by a superadmin.",
        extensions=auth("UM"),
    )
    async def user_update(
        self,
        info: Info,
        input: Annotated[UserUpdateInput, strawberry.argument(description="The values.")],
    ) -> UserUpdatePayload:
        viewer = info.context.require_viewer()
        data = _enum_values(input_fields(input))

        async def work() -> User:
            target = await _managed_user(info, data.pop("id"))
            refuse_nulls(User, data, "password")
            return await service.update_user(viewer, target, data, info.context.request_id)

        user, errors = await _run(work)
        return UserUpdatePayload(user=user, errors=errors)

    @strawberry.mutation(
        description="Delete a user (not yourself). Needs `UM`.", extensions=auth("UM")
    )
    async def user_delete(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            target = await _managed_user(info, id)
            await service.delete_user(viewer, target, info.context.request_id)

        _, errors = await _run(work)
        return DeletePayload(deleted_id=None if errors else id, errors=errors)

    @strawberry.mutation(description="Create a profile. Needs `UM`.", extensions=auth("UM"))
    async def profile_create(
        self,
        info: Info,
        input: Annotated[ProfileCreateInput, strawberry.argument(description="The values.")],
    ) -> ProfilePayload:
        viewer = info.context.require_viewer()
        bits = [b.name for b in input.permissions]
        profile, errors = await _run(
            lambda: service.create_profile(
                viewer, input.name.strip(), input.description, bits, info.context.request_id
            )
        )
        return ProfilePayload(profile=profile, errors=errors)

    @strawberry.mutation(description="Change a profile. Needs `UM`.", extensions=auth("UM"))
    async def profile_update(
        self,
        info: Info,
        input: Annotated[ProfileUpdateInput, strawberry.argument(description="The values.")],
    ) -> ProfilePayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        if "permissions" in data:
            data["permissions"] = [b.name for b in data["permissions"] or []]

        async def work() -> Profile:
            profile = await service.get_object(Profile, data.pop("id"), "id")
            refuse_nulls(Profile, data)
            return await service.update_profile(viewer, profile, data, info.context.request_id)

        profile, errors = await _run(work)
        return ProfilePayload(profile=profile, errors=errors)

    @strawberry.mutation(
        description="Delete a profile nobody holds. Needs `UM`.", extensions=auth("UM")
    )
    async def profile_delete(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            profile = await service.get_object(Profile, id, "id")
            await service.delete_profile(viewer, profile, info.context.request_id)

        _, errors = await _run(work)
        return DeletePayload(deleted_id=None if errors else id, errors=errors)

    @strawberry.mutation(description="Create a group. Needs `UM`.", extensions=auth("UM"))
    async def group_create(
        self,
        info: Info,
        input: Annotated[GroupCreateInput, strawberry.argument(description="The values.")],
    ) -> GroupPayload:
        viewer = info.context.require_viewer()
        group, errors = await _run(
            lambda: service.create_group(
                viewer, input.name.strip(), input.description, info.context.request_id
            )
        )
        return GroupPayload(group=group, errors=errors)

    @strawberry.mutation(
        description='Delete a group (not "All"); its assignments go with it. Needs `UM`.',
        extensions=auth("UM"),
    )
    async def group_delete(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            group = await service.get_object(Group, id, "id")
            await service.delete_group(viewer, group, info.context.request_id)

        _, errors = await _run(work)
        return DeletePayload(deleted_id=None if errors else id, errors=errors)

    @strawberry.mutation(
        description="Give a user a profile in a group. Needs `UM`.", extensions=auth("UM")
    )
    async def assignment_create(
        self,
        info: Info,
        input: Annotated[AssignmentCreateInput, strawberry.argument(description="The values.")],
    ) -> AssignmentPayload:
        viewer = info.context.require_viewer()

        async def work() -> Assignment:
            user = await service.get_object(User, input.user_id, "userId")
            if not can_manage_user(viewer, user):
                raise FieldError(
                    "userId", ErrorCode.FORBIDDEN, "Only a superadmin manages this user."
                )
            return await service.create_assignment(
                viewer, user, input.profile_id, input.group_id, info.context.request_id
            )

        assignment, errors = await _run(work)
        return AssignmentPayload(assignment=assignment, errors=errors)

    @strawberry.mutation(
        description="Take a profile assignment away. Needs `UM`.", extensions=auth("UM")
    )
    async def assignment_delete(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            assignment = await service.get_object(Assignment, id, "id")
            user = await User.get(id=assignment.user_id)
            if not can_manage_user(viewer, user):
                raise FieldError("id", ErrorCode.FORBIDDEN, "Only a superadmin manages this user.")
            await service.delete_assignment(viewer, assignment, info.context.request_id)

        _, errors = await _run(work)
        return DeletePayload(deleted_id=None if errors else id, errors=errors)
