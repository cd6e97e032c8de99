"""Duplicate detection (issue 18): `duplicates(type:, id:)` and `duplicateCandidates`
over what the viewer can see, by name ignoring case and accents, fiscal id, website
domain, e-mail and phone digits; the matching keys follow every write."""

from __future__ import annotations

import csv
import io

from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.leads import Lead
from crm_graphql.models.users import User
from crm_graphql.services.sqlcount import count_statements
from tests.csvdata import export, rows_of, upload
from tests.factories import Api, error_codes, make_company, make_contact, make_lead

DUPLICATES = """query($type: DuplicateEntity!, $id: ID!) {
  duplicates(type: $type, id: $id) {
    id rules score company { name } contact { fullName } lead { fullName }
  }
}"""
GROUPS = """query($type: DuplicateEntity!, $first: Int, $after: String) {
  duplicateCandidates(type: $type, first: $first, after: $after) {
    edges { cursor node { rule key size score ids companies { name } contacts { id }
                          leads { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
COMPANY_UPDATE = """mutation($input: CompanyUpdateInput!) {
  companyUpdate(input: $input) { company { name } errors { field code } } }"""


async def _companies() -> dict[str, Company]:
    """Four look-alikes under My company (manager1's), and one hidden root company."""
    home = await Company.get(name="My company")
    manager1 = await User.get(username="manager1")
    admin = await User.get(username="admin")
    made = {
        "cafe": await make_company(
            "Café Müller",
            parent=home,
            manager=manager1,
            website="https://www.Cafe-Muller.com/home",
            fiscal_id="ES-B1234",
        ),
        "plain": await make_company("cafe  muller", parent=home, manager=manager1),
        "site": await make_company(
            "Müller Coffee", parent=home, manager=manager1, website="cafe-muller.com"
        ),
        "fiscal": await make_company(
            "Other Co", parent=home, manager=manager1, fiscal_id="esb 1234"
        ),
        "unrelated": await make_company("Unrelated", parent=home, manager=manager1),
        # No parent: only its manager (admin) and superadmins see it.
        "hidden": await make_company("Cafe-Muller!", manager=admin, rooted=True),
    }
    return made


async def test_company_candidates_by_each_rule_and_only_visible_ones(demo: Api) -> None:
    made = await _companies()
    ask = {"type": "COMPANY", "id": str(made["cafe"].id)}
    found = (await demo.data(DUPLICATES, ask, as_user="manager1"))["duplicates"]
    assert [(c["company"]["name"], c["rules"], c["score"]) for c in found] == [
        ("Other Co", ["FISCAL_ID"], 95),
        ("cafe  muller", ["NAME"], 80),
        ("Müller Coffee", ["WEBSITE_DOMAIN"], 60),
    ]
    assert all(c["contact"] is None and c["lead"] is None for c in found)
    # The superadmin also sees the hidden root company.
    as_admin = (await demo.data(DUPLICATES, ask, as_user="admin"))["duplicates"]
    assert {c["company"]["name"] for c in as_admin} == {
        "Other Co",
        "cafe  muller",
        "Müller Coffee",
        "Cafe-Muller!",
    }
    # A hidden record is not found, and without CR there is nothing to ask.
    hidden = {"type": "COMPANY", "id": str(made["hidden"].id)}
    assert error_codes(await demo.gql(DUPLICATES, hidden, as_user="manager1")) == ["NOT_FOUND"]
    assert error_codes(await demo.gql(DUPLICATES, ask, as_user="user2")) == ["FORBIDDEN"]
    # Two rules at once make a stronger match.
    await demo.data(
        COMPANY_UPDATE,
        {"input": {"id": str(made["fiscal"].id), "website": "http://cafe-muller.com:8080"}},
        as_user="manager1",
    )
    again = (await demo.data(DUPLICATES, ask, as_user="manager1"))["duplicates"]
    assert (again[0]["company"]["name"], again[0]["rules"], again[0]["score"]) == (
        "Other Co",
        ["FISCAL_ID", "WEBSITE_DOMAIN"],
        98,
    )


async def test_company_groups_page_by_rule_and_key(demo: Api) -> None:
    made = await _companies()
    seen: list[tuple[str, str, int, list[str]]] = []
    after = None
    while True:
        page = (
            await demo.data(
                GROUPS, {"type": "COMPANY", "first": 1, "after": after}, as_user="manager1"
            )
        )["duplicateCandidates"]
        for edge in page["edges"]:
            node = edge["node"]
            seen.append(
                (node["rule"], node["key"], node["size"], [c["name"] for c in node["companies"]])
            )
            assert node["ids"] == [
                str(made[k].id)
                for k in made
                if made[k].name in [c["name"] for c in node["companies"]]
            ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [
        ("FISCAL_ID", "esb1234", 2, ["Café Müller", "Other Co"]),
        ("NAME", "cafe muller", 2, ["Café Müller", "cafe  muller"]),
        ("WEBSITE_DOMAIN", "cafe-muller.com", 2, ["Café Müller", "Müller Coffee"]),
    ]
    # The superadmin's NAME group has the hidden company too.
    groups = (await demo.data(GROUPS, {"type": "COMPANY"}, as_user="admin"))["duplicateCandidates"][
        "edges"
    ]
    name = next(e["node"] for e in groups if e["node"]["rule"] == "NAME")
    assert name["size"] == 3
    bad = await demo.gql(GROUPS, {"type": "COMPANY", "after": "nonsense"}, as_user="manager1")
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert error_codes(await demo.gql(GROUPS, {"type": "LEAD"}, as_user="user2")) == ["FORBIDDEN"]


async def test_contact_and_lead_candidates(demo: Api) -> None:
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    ann = await make_contact(a, "Ann Lee", email="Ann@Example.com", phone="+34 600 11 22 33")
    # Same e-mail at another company; same phone as a mobile; same name elsewhere.
    await make_contact(b, "Ann L.", email="ann@example.COM")
    await make_contact(b, "Bob", email="bob@example.com", mobile="0034 600-112233")
    await make_contact(b, "ANN LEE", email="lee@example.com")
    await make_contact(b, "Short", email="s@example.com", phone="12")
    found = (
        await demo.data(DUPLICATES, {"type": "CONTACT", "id": str(ann.id)}, as_user="manager1")
    )["duplicates"]
    assert [(c["contact"]["fullName"], c["rules"], c["score"]) for c in found] == [
        ("Ann L.", ["EMAIL"], 90),
        ("Bob", ["PHONE"], 60),
        ("ANN LEE", ["NAME"], 50),
    ]
    # user1 does not manage Customer #B but sees it (its manager is a colleague).
    as_user1 = (
        await demo.data(DUPLICATES, {"type": "CONTACT", "id": str(ann.id)}, as_user="user1")
    )["duplicates"]
    assert len(as_user1) == 3

    user1 = await User.get(username="user1")
    lead = await make_lead("Zoe", email="Zoe@Example.org", phone="(600) 99-88-77", owner=user1)
    await make_lead("Zoe 2", email="zoe@example.org", owner=user1)
    await make_lead("Zed", mobile="600998877", owner=user1)
    # Owned by someone else, managed by no company: hidden from user1.
    await make_lead("Zoe 3", email="zoe@example.org", owner=await User.get(username="admin"))
    leads = (await demo.data(DUPLICATES, {"type": "LEAD", "id": str(lead.id)}, as_user="user1"))[
        "duplicates"
    ]
    assert [(c["lead"]["fullName"], c["rules"]) for c in leads] == [
        ("Zoe 2", ["EMAIL"]),
        ("Zed", ["PHONE"]),
    ]
    groups = (await demo.data(GROUPS, {"type": "LEAD"}, as_user="user1"))["duplicateCandidates"]
    assert [(e["node"]["rule"], e["node"]["key"], e["node"]["size"]) for e in groups["edges"]] == [
        ("EMAIL", "zoe@example.org", 2),
        ("PHONE", "600998877", 2),
    ]


async def test_keys_follow_every_write(demo: Api) -> None:
    """Create, update through the API and save() all refresh the matching keys."""
    made = await _companies()
    cafe = made["cafe"]
    assert (cafe.name_key, cafe.domain_key, cafe.fiscal_key) == (
        "cafe muller",
        "cafe-muller.com",
        "esb1234",
    )
    await demo.data(
        COMPANY_UPDATE,
        {"input": {"id": str(cafe.id), "name": "Àlpha  Beta", "website": ""}},
        as_user="manager1",
    )
    fresh = await Company.get(id=cafe.id)
    assert (fresh.name_key, fresh.domain_key) == ("alpha beta", "")
    contact = await make_contact(await Company.get(name="Customer #A"), "Ann", email="A@B.com")
    contact.phone = "+1 (555) 123-4567"
    await contact.save(update_fields=["phone"])
    assert (await Contact.get(id=contact.id)).phone_key == "15551234567"
    lead = await make_lead("L", email=" X@Y.org ")
    assert (await Lead.get(id=lead.id)).email_key == "x@y.org"


async def test_imports_write_the_keys(demo: Api) -> None:
    """The company and contact imports write rows with raw SQL: the keys come along."""
    exported = await export(demo, "companies", "admin")
    rows = rows_of(exported.content)
    header, body = rows[0], rows[1:]
    website = header.index("website")
    name = header.index("name")
    changed = []
    for row in body:
        if row[name] == "Customer #A":
            row[website] = "https://www.customer-a.example/"
            copy = list(row)
            copy[name] = "Cüstomer   #A (new)"
            changed.append(copy)
        changed.append(row)
    out = io.StringIO()
    csv.writer(out).writerows([header, *changed])
    result = await upload(demo, out.getvalue().encode(), as_user="admin")
    assert result["errors"] == [] and (result["created"], result["updated"]) == (1, 1), result
    updated = await Company.get(name="Customer #A")
    created = await Company.get(name="Cüstomer   #A (new)")
    assert (updated.name_key, updated.domain_key) == ("customer a", "customer-a.example")
    assert (created.name_key, created.domain_key) == ("customer a new", "customer-a.example")
    contacts = "company,full name,email,phone,mobile,position,description,disabled\n"
    imported = await upload(
        demo,
        (contacts + "Customer #A,Zoë Ray,ZOE@x.org,+34 600 000 111,,,,0\n").encode(),
        as_user="admin",
        mutation="contactImport",
    )
    assert imported["errors"] == [], imported
    contact = await Contact.get(full_name="Zoë Ray")
    assert (contact.name_key, contact.email_key, contact.phone_key) == (
        "zoe ray",
        "zoe@x.org",
        "34600000111",
    )


async def test_group_statements_do_not_grow_with_the_groups(demo: Api) -> None:
    """One statement per rule for the groups, one per rule for their records."""
    user1 = await User.get(username="user1")

    async def statements_for_a_page() -> list[str]:
        with count_statements() as statements:
            page = (await demo.data(GROUPS, {"type": "LEAD", "first": 50}, as_user="user1"))[
                "duplicateCandidates"
            ]
        assert not page["pageInfo"]["hasNextPage"]
        return [s for s in statements if '"leads"' in s or " leads " in s]

    for n in range(3):
        for copy in range(2):
            await make_lead(f"L{n}.{copy}", email=f"l{n}@x.org", phone=f"60000{n:04}", owner=user1)
    few = await statements_for_a_page()
    for n in range(3, 20):
        for copy in range(3):
            await make_lead(f"L{n}.{copy}", email=f"l{n}@x.org", phone=f"60000{n:04}", owner=user1)
    many = await statements_for_a_page()
    assert len(few) == len(many) == 4, many
