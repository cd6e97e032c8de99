"""Access gaps of issue 12 over HTTP, in the worked-case world of SPEC §2 (the `demo`
fixture, plus the sample data where a test needs contacts, contracts and invoices)."""

from __future__ import annotations

import csv
import io

from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract
from crm_graphql.models.files import FileOwner
from crm_graphql.models.users import UserMode
from crm_graphql.services import files as file_store
from crm_graphql.services.mutations import atomic
from tests.factories import Api, error_codes, make_user


async def load_sample(api: Api) -> Api:
    """The worked case with the demo's sample contacts, contracts, invoices and leads."""
    from crm_graphql.services.demo import load_demo

    for username, password in await load_demo(sample_data=True):
        api.tokens[username] = await api.login(username, password)
    return api


async def attach(kind: FileOwner, owner_id: int, company_id: int) -> int:
    async def store() -> int:
        stored = await file_store.store(
            kind, owner_id, company_id, b"hello", "note.txt", "text/plain", None, None
        )
        return stored.id

    file_id, errors = await atomic(store)
    assert errors == []
    return file_id


async def export_rows(api: Api, what: str, as_user: str) -> list[list[str]]:
    response = await api.client.get(
        f"/export/{what}.csv", headers={"Authorization": f"Bearer {api.tokens[as_user]}"}
    )
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


COUNTS = """{
  companies { totalCount }
  contacts { totalCount }
  contracts(filter: {status: {in: [ACTIVE, INACTIVE, PENDING]}}) { totalCount }
  invoices { totalCount }
  companyStatistics { byCountry { count } byManager { count } topByActivity { count } }
}"""


# ---------------------------------------------------------------- 1. standalone users


async def test_standalone_user_without_company_sees_no_managed_company(api: Api) -> None:
    # Given the sample world, and a STANDALONE user with no company holding every CRM
    # bit, made manager of Customer #A (with its contacts, a private contract, an
    # invoice and a file)
    await load_sample(api)
    await make_user("loner", profile="CRM manager", mode=UserMode.STANDALONE)
    api.tokens["loner"] = await api.login("loner", "loner-pass")
    customer_a = await Company.get(name="Customer #A")
    loner_id = (await api.data("{ viewer { id } }", as_user="loner"))["viewer"]["id"]
    await Company.filter(id=customer_a.id).update(manager_id=int(loner_id))
    await Contract.filter(company_id=customer_a.id).update(private=True)
    file_id = await attach(FileOwner.COMPANY, customer_a.id, customer_a.id)
    # The same data is there for the company's owner before (control)
    before = await api.data(COUNTS, as_user="admin")
    assert before["contacts"]["totalCount"] > 0 and before["contracts"]["totalCount"] > 0
    assert before["invoices"]["totalCount"] > 0
    # When the loner lists, reads, downloads and exports: nothing (SPEC §2.4)
    seen = await api.data(COUNTS, as_user="loner")
    assert seen == {
        "companies": {"totalCount": 0},
        "contacts": {"totalCount": 0},
        "contracts": {"totalCount": 0},
        "invoices": {"totalCount": 0},
        "companyStatistics": {"byCountry": [], "byManager": [], "topByActivity": []},
    }
    one = await api.gql(
        "query($id: ID!) { company(id: $id) { name } }", {"id": str(customer_a.id)}, as_user="loner"
    )
    assert error_codes(one) == ["NOT_FOUND"]
    download = await api.client.get(
        f"/files/{file_id}", headers={"Authorization": f"Bearer {api.tokens['loner']}"}
    )
    assert download.status_code == 404
    for what in ("companies", "contacts", "contracts", "invoices"):
        assert len(await export_rows(api, what, "loner")) == 1, what  # the header only
