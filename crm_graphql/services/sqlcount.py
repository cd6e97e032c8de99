"""Count the SQL statements Tortoise sends, for tests and benchmarks.

Tortoise logs every statement at DEBUG on `tortoise.db_client`; while counting, that
logger is switched to DEBUG and a handler records the statements."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_logger = logging.getLogger("tortoise.db_client")


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
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
    try:
        yield collector.statements
    finally:
        _logger.removeHandler(collector)
        _logger.setLevel(previous_level)
        _logger.propagate = previous_propagate
