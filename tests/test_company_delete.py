"""Deleting a company that has invoices is refused with CONFLICT (SPEC §6), over HTTP and
from the companies service alone: the rule must not depend on which other modules
happen to be imported (issue 14, "hidden control flow")."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from datetime import date

from crm_graphql.models.companies import Company
from tests.factories import Api, make_company, make_invoice

DELETE = "mutation($id: ID!) { companyDelete(id: $id) { deletedId errors { field code } } }"


async def _company_with_invoice() -> Company:
    company = await make_company("Billed Ltd", manager=None)
    await make_invoice(company, bill_id="26/0001", issued_on=date(2026, 3, 1))
    return company


async def test_company_with_invoices_is_not_deleted(demo: Api) -> None:
    company = await _company_with_invoice()
    result = await demo.data(DELETE, {"id": str(company.id)}, as_user="admin")
    assert result["companyDelete"] == {
        "deletedId": None,
        "errors": [{"field": "id", "code": "CONFLICT"}],
    }
    assert await Company.filter(id=company.id).exists()


# A fresh interpreter that loads the models and the companies service, nothing else of
# the API: the invoice rule has to hold there too (it used to be registered by
# services/invoices.py at import time, so this path ended in an IntegrityError).
_ONLY_COMPANIES = textwrap.dedent(
    """
    import asyncio, os, sys
    from tortoise import Tortoise
    from crm_graphql.settings import tortoise_config

    async def main() -> None:
        await Tortoise.init(config=tortoise_config(os.environ["CRM_DATABASE_URL"]))
        try:
            from crm_graphql.models.companies import Company
            from crm_graphql.models.users import User
            from crm_graphql.services.auth import Viewer
            from crm_graphql.services.companies import delete_company
            from crm_graphql.services.mutations import atomic

            loaded = sorted(m for m in sys.modules if m.startswith("crm_graphql.resolvers"))
            assert not loaded, loaded
            company = await Company.get(id=int(sys.argv[1]))
            root = await User.get(username="admin")
            viewer = Viewer(user=root, bits=frozenset(), token_id=0,
                            token_kind="SESSION", scope="FULL")
            _, errors = await atomic(lambda: delete_company(viewer, company))
            print(",".join(f"{e.field}:{e.code}" for e in errors))
        finally:
            await Tortoise.close_connections()

    asyncio.run(main())
    """
)


async def test_companies_service_alone_refuses_a_company_with_invoices(demo: Api) -> None:
    company = await _company_with_invoice()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _ONLY_COMPANIES,
        str(company.id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "id:CONFLICT"
    assert await Company.filter(id=company.id).exists()
