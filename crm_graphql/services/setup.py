"""CRM setup (SPEC §8): the invoice parameters (one row, id 1), the invoice logo and
the payment methods printed on invoices.

Callers check who may change it (superadmins or FM); every writer here runs inside
`services.mutations.atomic` and collects every input problem before refusing, so a
refused change writes nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.files import FileOwner, StoredFile
from crm_graphql.models.leads import PROGRESS_NAMES
from crm_graphql.models.setup import CrmSetup, PaymentMethod
from crm_graphql.models.users import User
from crm_graphql.services import audit
from crm_graphql.services import files as file_store
from crm_graphql.services.invoicing import parse_pattern
from crm_graphql.settings import Settings, settings
from crm_graphql.values import currency_code, is_email, parse_percent

SETUP_ID = 1
MAX_TEXT = 10_000  # invoice header and footer
MAX_TAX_NAME = 50
MAX_PATTERN = 100
MAX_METHOD_NAME = 100
MAX_LOGO_BYTES = 2 * 1024 * 1024

# Image types accepted as the invoice logo, recognised by their first bytes (never by
# the name or the type the client declares).
_IMAGE_SIGNATURES: tuple[tuple[str, Any], ...] = (
    ("image/png", lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", lambda h: h.startswith(b"\xff\xd8\xff")),
    ("image/gif", lambda h: h.startswith((b"GIF87a", b"GIF89a"))),
    ("image/webp", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
)


def sniff_image_type(head: bytes) -> str | None:
    """The media type of an accepted image format from the file's first bytes."""
    for content_type, matches in _IMAGE_SIGNATURES:
        if matches(head):
            return content_type
    return None


async def get_setup() -> CrmSetup:
    """The setup row (id 1), created with the defaults the first time it is needed.
    Safe inside a caller's transaction and from concurrent requests."""
    setup = await CrmSetup.filter(id=SETUP_ID).first()
    if setup is not None:
        return setup
    try:
        async with in_transaction():  # a savepoint when the caller has a transaction
            await CrmSetup.create(id=SETUP_ID)
    except IntegrityError:  # another request created it first
        pass
    # Read back: the created instance holds the defaults as written (21), not as stored
    # and printed by every later read (21.0000).
    return await CrmSetup.get(id=SETUP_ID)


def _text(data: dict[str, Any], key: str, field: str, limit: int, errors: list[FieldError]) -> None:
    if key not in data:
        return
    value = str(data[key] or "")
    if len(value) > limit:
        errors.append(FieldError(field, ErrorCode.TOO_LARGE, f"At most {limit} characters."))
    data[key] = value


def _validated(data: dict[str, Any]) -> dict[str, Any]:
    """The changes with values normalised; every problem at once as PayloadErrors."""
    errors: list[FieldError] = []
    changes = dict(data)
    if "invoice_pattern" in changes:
        pattern = str(changes["invoice_pattern"] or "").strip()
        if len(pattern) > MAX_PATTERN:
            errors.append(
                FieldError(
                    "invoicePattern", ErrorCode.TOO_LARGE, f"At most {MAX_PATTERN} characters."
                )
            )
        else:
            try:
                parse_pattern(pattern)
            except FieldError as exc:
                errors.append(exc)
        changes["invoice_pattern"] = pattern
    if "default_currency" in changes:
        try:
            changes["default_currency"] = currency_code(
                changes["default_currency"], "defaultCurrency"
            )
        except FieldError as exc:
            errors.append(exc)
    if "default_tax_percent" in changes:
        try:
            changes["default_tax_percent"] = parse_percent(
                changes["default_tax_percent"], "defaultTaxPercent"
            )
        except FieldError as exc:
            errors.append(exc)
    if "tax_name" in changes:
        name = str(changes["tax_name"] or "").strip()
        if not name:
            errors.append(
                FieldError("taxName", ErrorCode.REQUIRED, "Give the tax a name, e.g. VAT.")
            )
        elif len(name) > MAX_TAX_NAME:
            errors.append(
                FieldError("taxName", ErrorCode.TOO_LARGE, f"At most {MAX_TAX_NAME} characters.")
            )
        changes["tax_name"] = name
    _text(changes, "invoice_header", "invoiceHeader", MAX_TEXT, errors)
    _text(changes, "invoice_footer", "invoiceFooter", MAX_TEXT, errors)
    if "invoice_auto_number" in changes and changes["invoice_auto_number"] is None:
        errors.append(FieldError("invoiceAutoNumber", ErrorCode.REQUIRED, "True or false."))
    _lead_parameters(changes, errors)
    _mail_parameters(changes, errors)
    if errors:
        raise PayloadErrors(errors)
    return changes


def _lead_parameters(changes: dict[str, Any], errors: list[FieldError]) -> None:
    if "lead_progress_names" in changes:
        names: dict[str, str] = {}
        for item in changes["lead_progress_names"] or []:
            name = str(item.name or "").strip()
            if item.code not in PROGRESS_NAMES:
                errors.append(
                    FieldError("leadProgressNames", ErrorCode.INVALID, f"No code {item.code}.")
                )
            elif not name or len(name) > 60:
                errors.append(
                    FieldError("leadProgressNames", ErrorCode.INVALID, "Names: 1 to 60 chars.")
                )
            else:
                names[str(item.code)] = name
        changes["lead_progress_names"] = names
    if "lead_channels" in changes:
        found = [str(c or "").strip() for c in changes["lead_channels"] or []]
        if not 1 <= len(found) <= 30 or any(not c or len(c) > 60 for c in found):
            errors.append(
                FieldError(
                    "leadChannels", ErrorCode.INVALID, "1 to 30 channels of 1 to 60 characters."
                )
            )
        elif len(set(found)) != len(found):
            errors.append(
                FieldError("leadChannels", ErrorCode.INVALID, "A channel is listed twice.")
            )
        changes["lead_channels"] = found
    _bounded(changes, "lead_stale_days", "leadStaleDays", 1, 3650, errors)


def _bounded(
    changes: dict[str, Any], key: str, field: str, low: int, high: int, errors: list[FieldError]
) -> None:
    if key in changes and (changes[key] is None or not low <= changes[key] <= high):
        errors.append(FieldError(field, ErrorCode.INVALID, f"Between {low} and {high}."))


def _mail_parameters(changes: dict[str, Any], errors: list[FieldError]) -> None:
    for key, field in (
        ("mail_reference_address", "mailReferenceAddress"),
        ("smtp_host", "smtpHost"),
        ("smtp_username", "smtpUsername"),
        ("smtp_password", "smtpPassword"),
        ("imap_host", "imapHost"),
        ("imap_username", "imapUsername"),
        ("imap_password", "imapPassword"),
    ):
        if key not in changes:
            continue
        value = str(changes[key] or "").strip()
        # Header and protocol values: a line break here could inject headers or commands.
        if any(c in value for c in "\r\n\0"):
            errors.append(FieldError(field, ErrorCode.INVALID, "No line breaks or NUL characters."))
        elif len(value) > 254:
            errors.append(FieldError(field, ErrorCode.TOO_LARGE, "At most 254 characters."))
        changes[key] = value
    address = changes.get("mail_reference_address")
    if address and not is_email(address):
        errors.append(FieldError("mailReferenceAddress", ErrorCode.INVALID, "Not a valid address."))
    if "smtp_security" in changes:
        security = getattr(changes["smtp_security"], "value", changes["smtp_security"])
        if security not in ("NONE", "STARTTLS", "TLS"):
            errors.append(FieldError("smtpSecurity", ErrorCode.INVALID, "NONE, STARTTLS or TLS."))
        changes["smtp_security"] = security
    _bounded(changes, "smtp_port", "smtpPort", 1, 65535, errors)
    _bounded(changes, "imap_port", "imapPort", 1, 65535, errors)
    _bounded(changes, "mail_poll_seconds", "mailPollSeconds", 10, 86400, errors)
    if "imap_ssl" in changes and changes["imap_ssl"] is None:
        errors.append(FieldError("imapSsl", ErrorCode.REQUIRED, "True or false."))


def _stale() -> FieldError:
    return FieldError(
        "version", ErrorCode.STALE, "The CRM setup changed since you read it; reload and retry."
    )


async def update_setup(
    actor: User, version: int, data: dict[str, Any], request_id: str = ""
) -> CrmSetup:
    """Apply `data` (model field names) when `version` is still the current one."""
    changes = _validated(data)
    setup = await get_setup()
    if setup.version != version:
        raise _stale()
    before = audit.snapshot(setup)
    if all(getattr(setup, key) == value for key, value in changes.items()):
        return setup  # nothing changes: no new version, no audit entry
    # The version condition makes concurrent updates safe without a row lock.
    updated = await CrmSetup.filter(id=SETUP_ID, version=version).update(
        **changes, version=version + 1
    )
    if updated != 1:
        raise _stale()
    setup = await CrmSetup.get(id=SETUP_ID)
    changed = audit.diff(before, audit.snapshot(setup))
    await audit.record(actor, audit.UPDATE, "CrmSetup", SETUP_ID, changed, request_id)
    return setup


async def set_logo(
    actor: User,
    upload: Any,
    *,
    config: Settings | None = None,
    request_id: str = "",
) -> CrmSetup:
    """Store `upload` (a PNG, JPEG, GIF or WebP image of at most MAX_LOGO_BYTES or the
    upload limit, whichever is lower) as the invoice logo, replacing the previous one."""
    config = config or settings
    head = await _head(upload)
    content_type = sniff_image_type(head)
    if content_type is None:
        raise FieldError(
            "file", ErrorCode.INVALID, "The logo must be a PNG, JPEG, GIF or WebP image."
        )
    limit = min(MAX_LOGO_BYTES, config.limits.max_upload_bytes)
    limited = dataclasses.replace(
        config, limits=dataclasses.replace(config.limits, max_upload_bytes=limit)
    )
    stored = await file_store.store(
        FileOwner.SETUP,
        SETUP_ID,
        None,
        upload,
        getattr(upload, "filename", None),
        content_type,
        "Invoice logo",
        actor,
        config=limited,
        request_id=request_id,
    )
    setup = await get_setup()
    previous = setup.invoice_logo_file_id
    await CrmSetup.filter(id=SETUP_ID).update(
        invoice_logo_file_id=stored.id, version=F("version") + 1
    )
    if previous is not None:
        old = await StoredFile.filter(id=previous, owner_kind=FileOwner.SETUP).first()
        if old is not None:
            await file_store.delete(old, actor, config=config, request_id=request_id)
    await audit.record(
        actor,
        audit.UPDATE,
        "CrmSetup",
        SETUP_ID,
        {"invoice_logo_file_id": [previous, stored.id]},
        request_id,
    )
    return await CrmSetup.get(id=SETUP_ID)


async def remove_logo(
    actor: User, *, config: Settings | None = None, request_id: str = ""
) -> CrmSetup:
    """Remove the invoice logo (a no-op without one)."""
    setup = await get_setup()
    previous = setup.invoice_logo_file_id
    if previous is None:
        return setup
    await CrmSetup.filter(id=SETUP_ID).update(invoice_logo_file_id=None, version=F("version") + 1)
    old = await StoredFile.filter(id=previous, owner_kind=FileOwner.SETUP).first()
    if old is not None:
        await file_store.delete(old, actor, config=config, request_id=request_id)
    await audit.record(
        actor,
        audit.UPDATE,
        "CrmSetup",
        SETUP_ID,
        {"invoice_logo_file_id": [previous, None]},
        request_id,
    )
    return await CrmSetup.get(id=SETUP_ID)


async def _head(upload: Any, size: int = 16) -> bytes:
    """The first bytes of an upload, leaving it readable from the start."""
    file = getattr(upload, "file", None)
    if file is not None and hasattr(file, "read"):  # Starlette's UploadFile
        file.seek(0)
        head = file.read(size)
        file.seek(0)
        return bytes(head)
    if isinstance(upload, bytes | bytearray | memoryview):
        return bytes(upload[:size])
    raise FieldError(
        "file", ErrorCode.INVALID, "Send the logo as a GraphQL multipart request part."
    )


async def logo_file(setup: CrmSetup) -> StoredFile | None:
    if setup.invoice_logo_file_id is None:
        return None
    return await StoredFile.filter(
        id=setup.invoice_logo_file_id, owner_kind=FileOwner.SETUP
    ).first()


# ---------------------------------------------------------------------------------------
# Payment methods


def _method_values(data: dict[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    values = dict(data)
    if "name" in values:
        name = str(values["name"] or "").strip()
        if not name:
            errors.append(FieldError("name", ErrorCode.REQUIRED, "Give the payment method a name."))
        elif len(name) > MAX_METHOD_NAME:
            errors.append(
                FieldError("name", ErrorCode.TOO_LARGE, f"At most {MAX_METHOD_NAME} characters.")
            )
        values["name"] = name
    _text(values, "text", "text", MAX_TEXT, errors)
    if errors:
        raise PayloadErrors(errors)
    return values


async def _name_taken(name: str, exclude_id: int | None = None) -> bool:
    query = PaymentMethod.filter(name__iexact=name)
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    return await query.exists()


def _unique_name() -> FieldError:
    return FieldError("name", ErrorCode.UNIQUE, "A payment method with this name exists.")


async def create_payment_method(
    actor: User, data: dict[str, Any], request_id: str = ""
) -> PaymentMethod:
    values = _method_values(data)
    if await _name_taken(values["name"]):
        raise _unique_name()
    try:
        async with in_transaction():
            method = await PaymentMethod.create(**values)
    except IntegrityError:
        raise _unique_name() from None
    await audit.record(
        actor, audit.CREATE, "PaymentMethod", method.id, audit.snapshot(method), request_id
    )
    return method


async def update_payment_method(
    actor: User, method: PaymentMethod, data: dict[str, Any], request_id: str = ""
) -> PaymentMethod:
    values = _method_values(data)
    if "name" in values and await _name_taken(values["name"], method.id):
        raise _unique_name()
    before = audit.snapshot(method)
    for key, value in values.items():
        setattr(method, key, value)
    try:
        async with in_transaction():
            await method.save(update_fields=list(values) or None)
    except IntegrityError:
        raise _unique_name() from None
    changed = audit.diff(before, audit.snapshot(method))
    await audit.record(actor, audit.UPDATE, "PaymentMethod", method.id, changed, request_id)
    return method


async def delete_payment_method(actor: User, method: PaymentMethod, request_id: str = "") -> None:
    await audit.record(
        actor, audit.DELETE, "PaymentMethod", method.id, audit.snapshot(method), request_id
    )
    await method.delete()
