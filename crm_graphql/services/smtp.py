"""Handing one message to the SMTP server (aiosmtplib). The outbox decides when to call
and what to do with a failure; this module only says whether retrying can help."""

from __future__ import annotations

import asyncio
import logging
import ssl
from email.message import EmailMessage

import aiosmtplib

log = logging.getLogger("crm_graphql.smtp")

DEFAULT_TIMEOUT = 30.0


class DeliveryError(Exception):
    """The message was not accepted. `permanent` means this message will never be
    accepted as it is (a 5xx reply to its sender, recipients or data); anything else
    (server down, timeouts, 4xx, TLS or login problems, which are configuration the admin
    can fix) is temporary and worth retrying."""

    def __init__(self, reason: str, permanent: bool, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code


def _reply(code: int, message: str) -> str:
    return f"{code} {message}".strip()


def _classify(exc: Exception) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        reasons = "; ".join(f"{r.recipient}: {_reply(r.code, r.message)}" for r in exc.recipients)
        permanent = bool(codes) and all(500 <= c < 600 for c in codes)
        return DeliveryError(f"all recipients refused ({reasons})", permanent, max(codes or [0]))
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPHeloError):
        return DeliveryError(f"server refused us: {_reply(exc.code, exc.message)}", False, exc.code)
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return DeliveryError(
            f"connection refused: {_reply(exc.code, exc.message)}", False, exc.code
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # MAIL FROM, DATA and the like: a 5xx refuses this message for good.
        return DeliveryError(_reply(exc.code, exc.message), 500 <= exc.code < 600, exc.code)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | asyncio.TimeoutError):
        return DeliveryError("timed out talking to the SMTP server", False)
    if isinstance(exc, aiosmtplib.SMTPException):
        return DeliveryError(f"SMTP error: {exc}", False)
    # OSError covers refused connections, unreachable hosts, DNS and TLS failures.
    return DeliveryError(f"cannot reach the SMTP server: {type(exc).__name__}: {exc}", False)


async def deliver(
    message: EmailMessage,
    *,
    host: str,
    port: int,
    username: str | None = None,
    password: str | None = None,
    use_tls: bool = False,
    start_tls: bool | None = None,
    # Passed on to aiosmtplib, which applies it to each connect and reply, not overall.
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    local_hostname: str | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> dict[str, str]:
    """Send the message to its To and Cc (and Bcc, stripped from the headers) addresses.
    `start_tls=None` upgrades when the server offers it. Returns the recipients the server
    refused while accepting the others (address -> reply); raises DeliveryError when the
    message was not accepted at all."""
    if not message.get_all("To") and not message.get_all("Cc") and not message.get_all("Bcc"):
        raise DeliveryError("the message has no recipients", permanent=True)
    try:
        refused, _ = await aiosmtplib.send(
            message,
            hostname=host,
            port=port,
            username=username or None,
            password=password if username else None,
            use_tls=use_tls,
            start_tls=start_tls,
            timeout=timeout,
            local_hostname=local_hostname,
            tls_context=tls_context,
        )
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        error = _classify(exc)
        log.info("delivery failed (%s): %s", "permanent" if error.permanent else "temporary", error)
        raise error from exc
    return {address: _reply(r.code, r.message) for address, r in refused.items()}
