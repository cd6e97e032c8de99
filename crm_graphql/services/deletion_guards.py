"""Checks other domains register to refuse deleting an object they still need
(for example: a company that has invoices). Each returns a reason, or None."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from crm_graphql.models.companies import Company

CompanyGuard = Callable[[Company], Awaitable[str | None]]

COMPANY: list[CompanyGuard] = []
