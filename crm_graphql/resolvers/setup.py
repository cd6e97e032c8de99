"""CRM setup and payment methods. Any authenticated user reads them (invoice forms need
them); only superadmins and FM users change them."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from crm_graphql.context import Info
from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.ids import parse_id
from crm_graphql.models.setup import CrmSetup, PaymentMethod
from crm_graphql.permissions.base import auth
from crm_graphql.resolvers.common import input_fields
from crm_graphql.schema.common import DeletePayload, user_errors
from crm_graphql.schema.setup import (
    CrmSetupPayload,
    CrmSetupType,
    CrmSetupUpdateInput,
    PaymentMethodCreateInput,
    PaymentMethodPayload,
    PaymentMethodType,
    PaymentMethodUpdateInput,
)
from crm_graphql.services import setup as service
from crm_graphql.services.mutations import atomic

Described = strawberry.argument


async def _method(value: Any) -> PaymentMethod:
    number = parse_id(value, "id")
    found = await PaymentMethod.filter(id=number).first()
    if found is None:
        raise FieldError("id", ErrorCode.NOT_FOUND, "No such payment method.")
    return found


async def _close(upload: Any) -> None:
    close = getattr(upload, "close", None)
    if callable(close):
        result = close()
        if inspect.isawaitable(result):
            await result


@strawberry.type
class SetupQuery:
    @strawberry.field(
        description="The CRM setup: invoice numbering, layout, tax and currency defaults.",
        extensions=auth(),
        graphql_type=CrmSetupType,
    )
    async def crm_setup(self, info: Info) -> CrmSetup:
        return await service.get_setup()

    @strawberry.field(
        description="Every payment method, by name.",
        extensions=auth(),
        graphql_type=list[PaymentMethodType],
    )
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        return await PaymentMethod.all().order_by("name", "id")


@strawberry.type
class SetupMutation:
    @strawberry.mutation(
        description="Change the CRM setup (FM or superadmin). Send the version you read; "
        "every invalid value is reported and nothing is changed.",
        extensions=auth("FM"),
    )
    async def crm_setup_update(
        self,
        info: Info,
        input: Annotated[CrmSetupUpdateInput, Described(description="The changes.")],
    ) -> CrmSetupPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        version = data.pop("version")
        setup, errors = await atomic(
            lambda: service.update_setup(viewer.user, version, data, info.context.request_id)
        )
        return CrmSetupPayload(setup=setup, errors=user_errors(errors))

    @strawberry.mutation(
        description="Upload the invoice logo (FM or superadmin) as a GraphQL multipart "
        "request: a PNG, JPEG, GIF or WebP image (recognised by its bytes) of at most "
        "2 MiB. It replaces the previous logo.",
        extensions=auth("FM"),
    )
    async def crm_setup_logo_upload(
        self,
        info: Info,
        file: Annotated[Upload, Described(description="The image file.")],
    ) -> CrmSetupPayload:
        viewer = info.context.require_viewer()

        async def work() -> CrmSetup:
            if not (hasattr(file, "filename") and hasattr(file, "read")):
                raise FieldError(
                    "file", ErrorCode.INVALID, "Send the logo as a multipart request part."
                )
            return await service.set_logo(
                viewer.user, file, config=info.context.settings, request_id=info.context.request_id
            )

        try:
            setup, errors = await atomic(work)
        finally:
            await _close(file)
        return CrmSetupPayload(setup=setup, errors=user_errors(errors))

    @strawberry.mutation(
        description="Remove the invoice logo (FM or superadmin).", extensions=auth("FM")
    )
    async def crm_setup_logo_remove(self, info: Info) -> CrmSetupPayload:
        viewer = info.context.require_viewer()
        setup, errors = await atomic(
            lambda: service.remove_logo(
                viewer.user, config=info.context.settings, request_id=info.context.request_id
            )
        )
        return CrmSetupPayload(setup=setup, errors=user_errors(errors))

    @strawberry.mutation(
        description="Create a payment method (FM or superadmin).", extensions=auth("FM")
    )
    async def payment_method_create(
        self,
        info: Info,
        input: Annotated[PaymentMethodCreateInput, Described(description="The values.")],
    ) -> PaymentMethodPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)
        method, errors = await atomic(
            lambda: service.create_payment_method(viewer.user, data, info.context.request_id)
        )
        return PaymentMethodPayload(payment_method=method, errors=user_errors(errors))

    @strawberry.mutation(
        description="Change a payment method (FM or superadmin).", extensions=auth("FM")
    )
    async def payment_method_update(
        self,
        info: Info,
        input: Annotated[PaymentMethodUpdateInput, Described(description="The changes.")],
    ) -> PaymentMethodPayload:
        viewer = info.context.require_viewer()
        data = input_fields(input)

        async def work() -> PaymentMethod:
            method = await _method(data.pop("id"))
            return await service.update_payment_method(
                viewer.user, method, data, info.context.request_id
            )

        method, errors = await atomic(work)
        return PaymentMethodPayload(payment_method=method, errors=user_errors(errors))

    @strawberry.mutation(
        description="Delete a payment method (FM or superadmin).", extensions=auth("FM")
    )
    async def payment_method_delete(
        self, info: Info, id: Annotated[strawberry.ID, Described(description="Its id.")]
    ) -> DeletePayload:
        viewer = info.context.require_viewer()

        async def work() -> None:
            method = await _method(id)
            await service.delete_payment_method(viewer.user, method, info.context.request_id)

        _, errors = await atomic(work)
        return DeletePayload(deleted_id=None if errors else id, errors=user_errors(errors))
