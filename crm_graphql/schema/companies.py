"""Company types. The foundation exposes a company's identity only; the companies
domain adds its fields, relations and access rule."""

from __future__ import annotations

import strawberry


@strawberry.type(name="Company", description="A company: a customer, supplier or our own.")
class CompanyType:
    id: strawberry.ID = strawberry.field(description="Company id.")
    name: str = strawberry.field(description="Company name (unique).")
