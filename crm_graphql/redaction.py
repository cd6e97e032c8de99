"""Secrets never reach a log line: calendar feed URLs (`/calendar/<token>.ics`), the
query values of `pass`, `user_pass` and `token` (the /include/api.php credentials), and
any of our bearer or feed secrets quoted anywhere.

Installed as the process's log record factory, so it sees every record — uvicorn's
access log (whose formatter reads `record.args` as a 5-tuple: only strings inside it
are rewritten), the app's own loggers and the libraries' — whatever handlers the
operator configures."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

MASK = "***"
SECRET_PARAMETERS = frozenset({"pass", "user_pass", "token"})
_CALENDAR = re.compile(r"(/calendar/)[^/?#\s\"']+(\.ics)")
_PARAMETER = re.compile(r"([?&;])([^=&#\s\"']+)=([^&#\s\"']*)")
# Bearer tokens (crm_ + 43 url-safe characters) and feed tokens, wherever they appear.
_SECRET = re.compile(r"\b(crm_|cal_)[A-Za-z0-9_-]{20,}")
# Cheap test before any regular expression runs.
_HINTS = ("/calendar/", "=", "crm")


def _parameter(match: re.Match[str]) -> str:
    key = match.group(2)
    if unquote_plus(key).strip().lower() in SECRET_PARAMETERS:
        return f"{match.group(1)}{key}={MASK}"
    return match.group(0)


def redact(text: str) -> str:
    """`text` with every secret this module knows replaced by `***`."""
    if not any(hint in text for hint in _HINTS):
        return text
    text = _CALENDAR.sub(rf"\g<1>{MASK}\g<2>", text)
    text = _PARAMETER.sub(_parameter, text)
    return _SECRET.sub(rf"\g<1>{MASK}", text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def _redact_record(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_value(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _redact_value(v) for k, v in record.args.items()}


class _RedactingFactory:
    """A log record factory that redacts what the one it wraps makes."""

    crm_redacts = True

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        _redact_record(record)
        return record


def install() -> None:
    """Wrap the log record factory (once per process)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "crm_redacts", False):
        return
    logging.setLogRecordFactory(_RedactingFactory(previous))
