"""What an import is given and what it answers: the importer's rights (`Access`,
`ContractAccess`, built by the caller from the permission layer, which services do not
import), the counts and the row errors (`ImportResult`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode, FieldError
from crm_graphql.models.users import User

# Row errors kept in the result; the counts stay exact past it.
MAX_ROW_ERRORS = 10_000


@dataclass(frozen=True)
class Access:
    """What the importer may do, built by the caller from the permission rules.

    `can_edit` receives a visible company as an object with `id` and `manager_id`."""

    user: User | None  # the actor written to the audit log; None is the system
    visible: Q
    can_edit: Callable[[Any], bool]
    can_create: bool
    can_change_manager: bool


@dataclass
class RowError:
    line: int
    field: str | None
    code: ErrorCode
    message: str


@dataclass
class ImportResult:
    dry_run: bool = False
    partial: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    written: bool = False
    row_errors: list[RowError] = field(default_factory=list)
    row_errors_truncated: bool = False
    errors: list[FieldError] = field(default_factory=list)  # the whole file's

    def reject(self, line: int, problems: Sequence[RowError]) -> None:
        self.rejected += 1
        for problem in problems:
            if len(self.row_errors) >= MAX_ROW_ERRORS:
                self.row_errors_truncated = True
                return
            self.row_errors.append(problem)

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


Progress = Callable[[int, int], None]  # (rows read, bytes read)


@dataclass(frozen=True)
class ContractAccess:
    """What the importer may do with contracts, built by the caller from the rules."""

    company: Access  # companies: visible, editable
    visible_contracts: Q
