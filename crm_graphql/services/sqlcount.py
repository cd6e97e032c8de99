"""Count the SQL statements Tortoise sends, for tests and benchmarks.

Tortoise logs every statement at DEBUG on `tortoise.db_client`; while counting, that
logger is switched to DEBUG and a handler records the statements sent from the counting
context (the code inside the `with` and the tasks it starts), so a background worker of
the same process (the PDF queue, the mail loops) never adds to a count."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_logger = logging.getLogger("tortoise.db_client")
_counting: ContextVar[list[str] | None] = ContextVar("crm_counted_statements", default=None)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _counting.get() is not self.statements:
            return
        if record.args and isinstance(record.args, tuple):
            statement = str(record.args[0])
        else:
            statement = str(record.msg)
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(statement)


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Yields a list that fills with each SELECT/INSERT/UPDATE/DELETE run inside."""
    collector = _Collector()
    previous_level = _logger.level
    previous_propagate = _logger.propagate
    _logger.addHandler(collector)
    _logger.setLevel(logging.DEBUG)
    _logger.propagate = False
    token = _counting.set(collector.statements)
    try:
        yield collector.statements
    finally:
        _counting.reset(token)
        _logger.removeHandler(collector)
        _logger.setLevel(previous_level)
        _logger.propagate = previous_propagate


@contextmanager
def uncounted() -> Iterator[None]:
    """Statements run inside are left out of any count being taken (a test harness's own
    requests)."""
    token = _counting.set(None)
    try:
        yield
    finally:
        _counting.reset(token)
