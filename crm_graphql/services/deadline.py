"""A deadline on the database work of one request (or one import, one export).

The HTTP layer opens a `deadline_scope(seconds)`; the database engines
(services/sqlite_engine.py, services/postgres_engine.py) read `current()` before each
statement and stop a statement that outlives it: SQLite through a progress handler,
PostgreSQL through `statement_timeout`. A statement stopped that way raises
`QueryTimeout` (a GraphQL error with code TIMEOUT). Work outside any scope (the mail
workers, migrations) has no deadline.

`Deadline.cancel()` ends the work early (the client went away): the engines treat a
cancelled deadline as expired."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from crm_graphql.errors import QueryTimeout


class Deadline:
    """An instant on the monotonic clock, optionally inside an outer deadline whose
    cancellation it shares (an import's longer budget inside a GraphQL request)."""

    __slots__ = ("at", "cancelled", "parent", "seconds")

    def __init__(self, seconds: float, parent: Deadline | None = None) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.cancelled = False
        self.parent = parent

    def remaining(self) -> float:
        """Seconds left; 0 when expired or cancelled."""
        if self.is_cancelled():
            return 0.0
        return max(self.at - time.monotonic(), 0.0)

    def remaining_ms(self) -> int:
        """Milliseconds left, at least 1 (0 means "no limit" to PostgreSQL)."""
        return max(math.ceil(self.remaining() * 1000), 1)

    def is_cancelled(self) -> bool:
        return self.cancelled or (self.parent is not None and self.parent.is_cancelled())

    def expired(self) -> bool:
        # Called from SQLite's progress handler in a worker thread: keep it cheap.
        return (
            self.cancelled
            or time.monotonic() >= self.at
            or (self.parent is not None and self.parent.is_cancelled())
        )

    def cancel(self) -> None:
        self.cancelled = True

    def check(self) -> None:
        """Raise QueryTimeout when no time is left: no statement starts after that."""
        if self.expired():
            raise timeout_error(self)


_current: ContextVar[Deadline | None] = ContextVar("crm_deadline", default=None)


def current() -> Deadline | None:
    return _current.get()


def timeout_error(deadline: Deadline | None) -> QueryTimeout:
    if deadline is not None and deadline.is_cancelled():
        return QueryTimeout("The request was cancelled before its database work finished.")
    seconds = f"{deadline.seconds:g} " if deadline is not None else ""
    return QueryTimeout(
        f"The database work of this request took longer than its {seconds}seconds "
        "and was stopped; nothing was changed. Ask for less (narrower filters, "
        "smaller pages) or try again later."
    )


@contextmanager
def deadline_scope(seconds: float | None, *, inherit: bool = True) -> Iterator[Deadline | None]:
    """Database work inside the block must end within `seconds` (None or <= 0: no
    limit of its own). A scope inside another shares the outer one's cancellation,
    unless `inherit` is false (work that must still be done once the request's own
    deadline has passed, such as writing its audit entries)."""
    if seconds is None or seconds <= 0:
        yield current()
        return
    deadline = Deadline(seconds, parent=current() if inherit else None)
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)
