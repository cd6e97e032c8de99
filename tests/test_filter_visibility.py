"""Filters (issue 12): plain boolean conditions work, and a filter through a relation
matches only related rows the viewer may see (SPEC §2), so it never reveals hidden data."""

from __future__ import annotations

from typing import Any

from crm_graphql.models.companies import Company
from crm_graphql.models.contracts import Contract
from tests.factories import Api, load_sample, make_user
from tests.leads_api import CREATE_WITH_COMPANY

LEADS = """query($f: LeadFilter) { leads(filter: $f, first: 100) {
  totalCount edges { node { fullName duplicate } } } }"""


async def lead_names(api: Api, user: str, flt: dict[str, Any]) -> set[str]:
    data = await api.data(LEADS, {"f": flt}, as_user=user)
    return {e["node"]["fullName"] for e in data["leads"]["edges"]}


# ------------------------------------------------------------ 8. the duplicate filter


async def test_lead_duplicate_filter(demo: Api) -> None:
    # Given two leads, the second with the first one's e-mail
    for name in ("First", "Second"):
        made = await demo.data(
            CREATE_WITH_COMPANY,
            {"i": {"fullName": name, "email": "same@x.example"}},
            as_user="user1",
        )
        assert made["leadCreate"]["errors"] == []
    await demo.data(CREATE_WITH_COMPANY, {"i": {"fullName": "Other"}}, as_user="user1")
    # Then duplicate: true / false split them
    assert await lead_names(demo, "user1", {"duplicate": True}) == {"Second"}
    assert await lead_names(demo, "user1", {"duplicate": False}) == {"First", "Other"}
    assert await lead_names(demo, "user1", {"not": {"duplicate": True}}) == {"First", "Other"}


# ------------------------------------------- 5. relation filters see only visible rows


async def test_invoice_contract_number_filter_ignores_hidden_contracts(api: Api) -> None:
    # Given the sample world: contract 21/1001 of Customer #A, related to its invoice,
    # and a user belonging to Customer #A (sees it and its invoices, not My company)
    await load_sample(api)
    customer_a = await Company.get(name="Customer #A")
    await make_user("insider", bits=("CR", "IR"), company=customer_a)
    api.tokens["insider"] = await api.login("insider", "insider-pass")
    query = """query($f: InvoiceFilter) { invoices(filter: $f) { totalCount } }"""
    by_number = {"f": {"contractNumber": {"eq": "21/1001"}}}
    seen = await api.data(query, by_number, as_user="insider")
    assert seen["invoices"]["totalCount"] == 1  # the contract is public: it matches
    # When the contract becomes private (only My company's users see it)
    await Contract.filter(number="21/1001").update(private=True)
    # Then the filter no longer matches through it for the insider, nor its negation
    # hides the invoice; user1 (manager of Customer #A) still matches
    hidden = await api.data(query, by_number, as_user="insider")
    assert hidden["invoices"]["totalCount"] == 0
    negated = await api.data(
        query, {"f": {"not": {"contractNumber": {"eq": "21/1001"}}}}, as_user="insider"
    )
    assert negated["invoices"]["totalCount"] == 1
    assert (await api.data(query, by_number, as_user="user1"))["invoices"]["totalCount"] == 1
    # The CSV export filters the same way
    export = await api.client.get(
        "/export/invoices.csv",
        params={"filter": '{"contractNumber": {"eq": "21/1001"}}'},
        headers={"Authorization": f"Bearer {api.tokens['insider']}"},
    )
    assert export.status_code == 200 and len(export.text.strip().splitlines()) == 1


async def test_lead_company_filter_ignores_a_hidden_managing_company(demo: Api) -> None:
    # Given user1's new lead, managed by My company (which user1 cannot see)
    await demo.data(CREATE_WITH_COMPANY, {"i": {"fullName": "Mine"}}, as_user="user1")
    by_name = {"company": {"name": {"eq": "My company"}}}
    # Then user1 cannot find it by that company, while the superadmin can
    assert await lead_names(demo, "user1", by_name) == set()
    assert await lead_names(demo, "admin", by_name) == {"Mine"}
    # A hidden company counts as none: isNull matches, the negation keeps the lead
    no_company = {"company": {"id": {"isNull": True}}}
    assert await lead_names(demo, "user1", no_company) == {"Mine"}
    assert await lead_names(demo, "user1", {"not": by_name}) == {"Mine"}
    # The lead statistics go through the same filter
    stats = await demo.data(
        "query($f: LeadFilter) { leadStatistics(filter: $f) { byCountry { count } } }",
        {"f": by_name},
        as_user="user1",
    )
    assert stats["leadStatistics"]["byCountry"] == []


async def test_company_parent_filter_ignores_a_hidden_parent(demo: Api) -> None:
    query = """query($f: CompanyFilter) { companies(filter: $f) {
      edges { node { name } } } }"""

    async def names(user: str, flt: dict[str, Any]) -> set[str]:
        data = await demo.data(query, {"f": flt}, as_user=user)
        return {e["node"]["name"] for e in data["companies"]["edges"]}

    # My company (no parent) is the parent of A and B, and hidden from user1
    by_parent = {"parent": {"name": {"eq": "My company"}}}
    assert await names("admin", by_parent) == {"Customer #A", "Customer #B"}
    assert await names("user1", by_parent) == set()
    assert await names("user1", {"parent": {"name": {"contains": "My"}}}) == set()
    assert await names("user1", {"not": by_parent}) == {"Customer #A", "Customer #B"}
    stats = await demo.data(
        "query($f: CompanyFilter) { companyStatistics(filter: $f) { byCountry { count } } }",
        {"f": by_parent},
        as_user="user1",
    )
    assert stats["companyStatistics"]["byCountry"] == []


async def test_user_company_filter_ignores_hidden_companies(demo: Api) -> None:
    # Given a user manager (UM) without CRM bits: they list users, not companies
    await make_user("hr", bits=("UM",), company=await Company.get(name="My company"))
    demo.tokens["hr"] = await demo.login("hr", "hr-pass")
    query = """query($f: UserFilter) { users(filter: $f) { totalCount } }"""
    by_company = {"f": {"company": {"name": {"eq": "Customer #A"}}}}
    assert (await demo.data(query, by_company, as_user="admin"))["users"]["totalCount"] == 1
    assert (await demo.data(query, by_company, as_user="hr"))["users"]["totalCount"] == 0


# Relations whose rows are visible whenever the filtered row is (a contact, contract or
# invoice is only visible with its company): no guard needed.
IMPLIED = {("Contact", "company"), ("Contract", "company"), ("Invoice", "company")}


def test_every_relation_filter_to_access_controlled_rows_is_guarded() -> None:
    import importlib
    import pkgutil

    import crm_graphql.schema as schema_package
    from crm_graphql.models.audit import AuditEntry
    from crm_graphql.models.contacts import Contact
    from crm_graphql.models.invoices import Invoice
    from crm_graphql.models.leads import Lead
    from crm_graphql.models.users import User
    from crm_graphql.services.listing import Relation

    models = {
        "COMPANY_FILTER_SPEC": Company,
        "CONTACT_FILTER_SPEC": Contact,
        "CONTRACT_FILTER_SPEC": Contract,
        "INVOICE_FILTER_SPEC": Invoice,
        "LEAD_FILTER_SPEC": Lead,
        "USER_FILTER_SPEC": User,
        "AUDIT_FILTER_SPEC": AuditEntry,
    }
    protected = {Company, Contact, Contract, Invoice, Lead}
    found: dict[str, Any] = {}
    for module in pkgutil.iter_modules(schema_package.__path__):
        loaded = importlib.import_module(f"crm_graphql.schema.{module.name}")
        found |= {k: v for k, v in vars(loaded).items() if k.endswith("_FILTER_SPEC")}
    assert set(found) == set(models), "a new filter spec: add it (and its model) here"

    def walk(model: Any, spec: dict[str, Any], at: str) -> None:
        for name, target in spec.items():
            if not isinstance(target, Relation):
                continue
            related = model
            for step in target.path.split("__"):
                related = related._meta.fields_map[step].related_model
            if related in protected and target.visible is None:
                assert (model.__name__, target.path) in IMPLIED, f"{at}.{name} is unguarded"
            walk(related, target.spec, f"{at}.{name}")

    for spec_name, model in models.items():
        walk(model, found[spec_name], spec_name)
