"""The differential harness (issue 15): a read operation runs through an app with
`compiled_reads` on and one with it off, on the same database and data, and the two
answers (status, data and errors) must be identical after parsing.

- `Differential` holds the two clients and compares; `Mismatch` says where they differ.
- `DIFFERENTIAL` (env `CRM_DIFFERENTIAL=1`): the suite's `Api.post` (tests/factories.py)
  also runs every query it sends through the other path (tests/conftest.py wires it).
- `build_world()` loads the demo world with more rows around it and returns a token for
  each of the seven viewers the corpus and the generated queries run as.
- `load_corpus()` reads tests/corpus/*.graphql: one operation per file, and one line
  `# variables: {...}` per variable set to run it with (none: run once without)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tortoise import Tortoise

from crm_graphql.app import create_app
from crm_graphql.models.companies import Company
from crm_graphql.models.contacts import Contact
from crm_graphql.models.contracts import Contract, ContractStatus, ContractType
from crm_graphql.models.customfields import CustomFieldEntity
from crm_graphql.models.events import Event, EventAction, EventObjectType
from crm_graphql.models.files import FileOwner
from crm_graphql.models.invoices import Invoice
from crm_graphql.models.leads import (
    Lead,
    LeadActivity,
    LeadActivityKind,
    LeadHistory,
    LeadHistoryKind,
    SavedLeadSearch,
)
from crm_graphql.models.trash import TrashEntry, TrashType
from crm_graphql.models.users import User, UserMode
from crm_graphql.services.demo import load_demo
from crm_graphql.services.sqlcount import count_statements, uncounted
from crm_graphql.services.trash import move_to_trash
from crm_graphql.settings import Settings, settings
from tests.factories import (
    make_activity,
    make_contact,
    make_contract,
    make_contract_template,
    make_custom_field,
    make_custom_value,
    make_invoice,
    make_lead,
    make_lead_tag,
    make_mail_template,
    make_payment_method,
    make_stored_file,
    make_token,
    make_user,
)

DIFFERENTIAL = os.environ.get("CRM_DIFFERENTIAL", "").strip() == "1"
CORPUS = Path(__file__).parent / "corpus"
VIEWERS = (
    "admin",
    "user1",
    "manager1",
    "user2",
    "standalone",
    "invoice_reader",
    "lead_seller",
)


# Read operations of the suite compared by the hook in this session (reported at the end).
STATS = {"compared": 0}


class Mismatch(AssertionError):
    """The two paths answered differently."""


@dataclass
class Answer:
    status: int
    body: Any

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text}
        return cls(response.status_code, body)


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where two parsed JSON values differ (keys, order of lists, types, values), as
    JSON paths; empty when they are identical. Key order inside objects counts too: a
    client reading the text sees it."""
    if type(expected) is not type(actual):
        return [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, dict):
        found: list[str] = []
        if list(expected) != list(actual):
            found.append(f"{path}: keys {list(expected)} != {list(actual)}")
        for key in expected:
            if key in actual:
                found += differences(expected[key], actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items != {len(actual)} items"]
        found = []
        for n, (left, right) in enumerate(zip(expected, actual, strict=True)):
            found += differences(left, right, f"{path}[{n}]")
        return found
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"]


def in_error_order(body: Any) -> Any:
    """The body with its `errors` in one order (by path, then message). The executor
    lists errors as their resolvers finish, which concurrent resolvers do in no fixed
    order: the same errors in another order are the same answer."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return body
    errors = sorted(body["errors"], key=lambda e: json.dumps([e.get("path"), e.get("message")]))
    return {key: errors if key == "errors" else value for key, value in body.items()}


def compare(interpreted: Answer, compiled: Answer, what: str = "") -> None:
    """Raise `Mismatch` unless both answers are identical (errors in any order)."""
    found = []
    if interpreted.status != compiled.status:
        found.append(f"status {interpreted.status} != {compiled.status}")
    found += differences(in_error_order(interpreted.body), in_error_order(compiled.body))
    if found:
        shown = "\n  ".join(found[:20])
        raise Mismatch(
            f"the compiled path answered differently{' for ' + what if what else ''}:\n  "
            f"{shown}\ninterpreted: {json.dumps(interpreted.body)[:2000]}\n"
            f"compiled:    {json.dumps(compiled.body)[:2000]}"
        )


@dataclass
class Differential:
    """Two clients of apps on the same database, one per path."""

    compiled: httpx.AsyncClient
    interpreted: httpx.AsyncClient
    # Which one the suite's own client talks to (its app follows CRM_COMPILED_READS).
    primary_is_compiled: bool = True
    compared: int = 0

    async def answers(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Answer, Answer]:
        """Both paths' answers (interpreted first), with the same request id."""
        sent = dict(headers or {})
        if not any(k.lower() == "x-request-id" for k in sent):
            sent["X-Request-ID"] = uuid.uuid4().hex
        if token:
            sent["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        interpreted = await self.interpreted.post("/graphql", json=body, headers=sent)
        compiled = await self.compiled.post("/graphql", json=body, headers=sent)
        return Answer.of(interpreted), Answer.of(compiled)

    async def check(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        what: str = "",
    ) -> Answer:
        """Run on both paths, raise `Mismatch` on a difference; the (common) answer."""
        interpreted, compiled = await self.answers(query, variables, token)
        compare(interpreted, compiled, what)
        self.compared += 1
        return compiled

    async def shadow(self, response: httpx.Response) -> None:
        """The suite's hook: `response` came from one path; send the same request to the
        other and compare. Runs outside any statement count the test is taking."""
        request = response.request
        primary_is_compiled = self.primary_is_compiled
        other = self.interpreted if primary_is_compiled else self.compiled
        with uncounted():
            again = await other.post("/graphql", content=request.content, headers=request.headers)
        first, second = Answer.of(response), Answer.of(again)
        what = request.content.decode(errors="replace")[:300]
        if primary_is_compiled:
            compare(second, first, what)
        else:
            compare(first, second, what)
        STATS["compared"] += 1
        self.compared += 1


def compiled_ran(statements: list[str]) -> bool:
    """Whether the compiled path answered (its statements name their rows `crm_node`)."""
    return any("crm_node" in s for s in statements)


async def counted(
    paths: Differential, query: str, variables: Any, token: str
) -> tuple[Any, list[str]]:
    """`compiled_statements` with the answer's body."""
    answer, statements = await compiled_statements(paths, query, token, variables)
    return answer.body, statements


def path_settings(compiled: bool, base: Settings | None = None) -> Settings:
    return replace(base or settings, compiled_reads=compiled)


@asynccontextmanager
async def client_of(config: Settings, host: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own (sharing the ORM already set up) behind an httpx client whose
    base URL names the path (`compiled` or `interpreted`)."""
    application = create_app(config)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
            yield http


@asynccontextmanager
async def differential() -> AsyncIterator[Differential]:
    """Two apps, compiled reads on and off, on the test database."""
    async with (
        client_of(path_settings(True), "compiled") as compiled,
        client_of(path_settings(False), "interpreted") as interpreted,
    ):
        yield Differential(compiled, interpreted)


async def build_world() -> dict[str, str]:
    """The demo world (sample data, no PDFs) and more around it: child companies of both
    customers with contacts, activities, contracts (some private, some inactive) and
    invoices linked to them, leads with tags, owners and companies, custom values.
    Returns a token per viewer of `VIEWERS`."""
    await load_demo(sample_data=True, render_pdfs=False)
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    user1 = await User.get(username="user1")
    manager1 = await User.get(username="manager1")
    size = await make_custom_field(CustomFieldEntity.COMPANY, name="Headcount", kind="NUMERIC")
    hot, cold = await make_lead_tag("Hot lead"), await make_lead_tag("Cold lead")
    standalone = await make_user(
        "standalone", bits=("CR", "CW", "IR", "LR"), company=b, mode=UserMode.STANDALONE
    )
    await make_user("invoice_reader", bits=("CR", "IR"), company=a)
    await make_user("lead_seller", bits=("LR", "LW"), company=a)
    await Company.filter(id=b.id).update(manager_id=standalone.id)
    for n in range(12):
        parent = a if n % 2 == 0 else b
        company = await Company.create(
            name=f"Child {n:02} {'Alpha' if n % 3 else 'Beta'}",
            parent=parent,
            manager=user1 if n % 3 == 0 else manager1,
            country=("Spain", "France", "Italy")[n % 3],
            payment_conditions=n * 5,
        )
        company.path = f"{parent.path}{company.id}/"
        await Company.filter(id=company.id).update(path=company.path)
        if n % 4 != 3:
            await make_custom_value(size, company.id, str(10 * (n + 1)))
        for c in range(n % 3 + 1):
            await make_contact(company, f"Person {n:02}-{c}", position=("CEO", "CTO", "")[c % 3])
        if n % 2 == 0:
            # Authors vary, so an activity's viewerCan differs between viewers.
            await make_activity(company, f"Call {n}", author=(user1, manager1, None)[n % 3])
        invoices = []
        for i in range(n % 4):
            invoices.append(
                await make_invoice(
                    company,
                    f"D-{n:02}-{i}",
                    issued_on=date(2026, 1, 1) + timedelta(days=7 * n + i),
                    lines=(("Work", 10_000 * (i + 1)), ("Travel", 2_550)),
                    taxes=(("VAT", "21"),),
                    base_cents=10_000 * (i + 1) + 2_550,
                    total_cents=(10_000 * (i + 1) + 2_550) * 121 // 100,
                    paid_on=date(2026, 2, 1) if i % 2 else None,
                )
            )
        for k in range(n % 3):
            await make_contract(
                company,
                f"Contract {n:02}-{k}",
                date_begin=date(2025, 1 + k, 1 + n),
                private=(n + k) % 3 == 0,
                status=ContractStatus.INACTIVE if (n + k) % 4 == 1 else ContractStatus.ACTIVE,
                owner=user1 if k % 2 == 0 else manager1,
                invoices=tuple(invoices[: k + 1]),
            )
    seller = await User.get(username="lead_seller")
    for n in range(15):
        lead = await make_lead(
            f"Lead {n:02}",
            tags=(hot,) if n % 3 == 0 else (cold, hot) if n % 3 == 1 else (),
            owner=(user1, manager1, seller, None)[n % 4],
            company=(a, b, None)[n % 3],
            progress=(0, 20, 40, 100)[n % 4],
            estimated_sale_cents=n * 12_345,
            country=("Spain", "France")[n % 2],
            close_date=date(2026, 5, 1 + n),
        )
        await _lead_lines(lead, n, (user1, seller, None)[n % 3])
    await _types_and_searches(seller)
    await _mail_templates(seller)
    await _files((user1, manager1, standalone, seller, None))
    await _events((user1.id, manager1.id, None, 999_999))
    await _trash(a, b, (await User.get(username="admin"), user1, manager1, seller, None))
    await _duplicates()
    tokens = {}
    for username in VIEWERS:
        user = await User.get(username=username)
        tokens[username] = await make_token(user, name="differential")
    return tokens


async def _types_and_searches(seller: User) -> None:
    """Contract and lead types' custom fields (positions out of id order, some shown in
    lists, a lead field whose owner id is a contract type's), a contract template, a
    payment method, and saved lead searches: the admin's (id 1), the lead seller's
    (id 2) and one whose stored filter the schema now refuses (manager1's, id 3)."""
    services = await ContractType.get(name="Services contract")
    product = await ContractType.get(name="Product contract")
    for n, (name, listed) in enumerate((("Seats", False), ("Tier", True), ("Region", True))):
        await make_custom_field(
            CustomFieldEntity.CONTRACT,
            name,
            owner_id=services.id,
            position=3 - n,
            show_in_list=listed,
        )
    await make_custom_field(CustomFieldEntity.CONTRACT, "Model", owner_id=product.id)
    await make_custom_field(CustomFieldEntity.LEAD, "Stage note", owner_id=services.id)
    await make_contract_template("Renewal", html="<p>Renewal</p>")
    await make_payment_method("Transfer", "IBAN ES00")
    admin, manager1 = await User.get(username="admin"), await User.get(username="manager1")
    for user, name, stored in (
        (admin, "Spanish", {"showFinished": True, "country": {"eq": "Spain"}}),
        (
            seller,
            "Mine",
            {"progress": {"in": [40, 100]}, "showFinished": True, "fullName": {"contains": "Lead"}},
        ),
        (manager1, "Broken", {"nonsense": {"eq": 1}}),
    ):
        await SavedLeadSearch.create(user=user, name=name, filter_json=stored)


async def _mail_templates(seller: User) -> None:
    """CRM templates of three companies in several languages (and none), one without a
    company that the lead seller created (theirs to manage, so they see it)."""
    home = await Company.get(name="My company")
    a = await Company.get(name="Customer #A")
    b = await Company.get(name="Customer #B")
    for company, name, language in (
        (home, "Offer", "en"),
        (home, "Oferta", "es"),
        (home, "Offre", "fr"),
        (home, "Any language", ""),
        (a, "Offer", "en"),
        (a, "Follow-up", ""),
        (b, "Offer", "es"),
    ):
        await make_mail_template(name, f"{name} ({language})", company=company, language=language)
    await make_mail_template("Seller's own", language="en", creator=seller)


async def _lead_lines(lead: Lead, n: int, user: User | None) -> None:
    """A lead's activities (of every kind, some without author, one lead with more than
    a page, equal times so the id breaks ties) and history lines."""
    when = datetime(2026, 4, 1, 9, 30, tzinfo=UTC) + timedelta(hours=n)
    kinds = list(LeadActivityKind)
    for k in range(12 if n == 5 else n % 4):
        await LeadActivity.create(
            lead=lead,
            author=user if k % 2 == 0 else None,
            kind=kinds[(n + k) % len(kinds)],
            sender=f"prospect{n}@prospect.example" if k % 2 else "",
            subject=f"Re: offer {n}-{k}" if k % 2 else "",
            text=f"Note {k} on lead {n}",
            created_at=when - timedelta(minutes=k // 2),
        )
    history = list(LeadHistoryKind)
    for k in range(12 if n == 7 else n % 3):
        await LeadHistory.create(
            lead=lead,
            user=user if k % 2 else None,
            kind=history[(n + k) % len(history)],
            description=f"Line {k} of lead {n}",
            created_at=when + timedelta(seconds=k, microseconds=(k % 2) * 1500),
        )


async def _files(uploaders: tuple[User | None, ...]) -> None:
    """Files of owners of every kind (some owners with more than a page, some files at
    the same time so the id breaks ties), uploaded by users of differing rights."""
    owners: list[tuple[FileOwner, Any]] = [
        (FileOwner.COMPANY, await Company.all().order_by("id")),
        (FileOwner.CONTACT, await Contact.all().order_by("id")),
        (FileOwner.CONTRACT, await Contract.all().order_by("id")),
        (FileOwner.INVOICE, await Invoice.all().order_by("id")),
        (FileOwner.LEAD, await Lead.all().order_by("id")),
    ]
    when = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    for kind, rows in owners:
        for n, row in enumerate(rows):
            company_id = getattr(row, "company_id", row.id if kind == FileOwner.COMPANY else None)
            for k in range(12 if n == 1 else n % 4):
                await make_stored_file(
                    kind,
                    row.id,
                    company_id=company_id,
                    original_name=f"{kind.value.lower()}-{n}-{k}.pdf",
                    content_type="application/pdf",
                    size=1000 * n + k,
                    description=f"File {k}" if k % 2 else "",
                    uploader=uploaders[(n + k) % len(uploaders)],
                    created_at=when + timedelta(minutes=n, seconds=k // 2),
                )


# Changed fields as the event log keeps them: any JSON (text with quotes and accents,
# numbers, nulls, lists, objects).
_CHANGES: tuple[dict[str, Any], ...] = (
    {"name": ['Old "name"', "Nouveau nom é"], "paymentConditions": [30, 60]},
    {},
    {"estimatedSale": ["10.50", "1200.00"], "closeDate": [None, "2026-05-01"]},
    {"tags": [["Hot"], ["Hot", "Cold"]], "private": [False, True], "ratio": [0.5, 1.25]},
    {"z": [1, 2], "a": [None, {"nested": ["x", 1]}]},
)


async def _events(actors: tuple[int | None, ...]) -> None:
    """Record history of objects of every kind: creates, updates and deletions, by users,
    the system and a deleted user, one object with more than a page of them."""
    owners: list[tuple[EventObjectType, list[int]]] = [
        (EventObjectType.COMPANY, [c.id for c in await Company.all().order_by("id")]),
        (EventObjectType.CONTACT, [c.id for c in await Contact.all().order_by("id")]),
        (EventObjectType.CONTRACT, [c.id for c in await Contract.all().order_by("id")]),
        (EventObjectType.INVOICE, [c.id for c in await Invoice.all().order_by("id")]),
        (EventObjectType.LEAD, [c.id for c in await Lead.all().order_by("id")]),
    ]
    when = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    rows = []
    for kind, ids in owners:
        for n, object_id in enumerate(ids):
            count = 12 if n == 2 else n % 4
            for k in range(count):
                # Created, updated, and deleted last when it has three or more.
                action = EventAction.CREATE if k == 0 else EventAction.UPDATE
                if k == count - 1 and count >= 3:
                    action = EventAction.DELETE
                rows.append(
                    Event(
                        object_type=str(kind),
                        object_id=object_id,
                        action=str(action),
                        changes={} if action == EventAction.DELETE else _CHANGES[(n + k) % 5],
                        actor_id=actors[(n + k) % len(actors)],
                        created_at=when + timedelta(hours=n, microseconds=k * 10),
                    )
                )
    await Event.bulk_create(rows)


async def _trash(a: Company, b: Company, actors: tuple[User | None, ...]) -> None:
    """Deleted companies (children of both customers, one with contacts and a contract),
    contacts, contracts (some private) and leads (of differing owners and companies), by
    several users, some deleted at the same time so the id breaks ties."""
    when = datetime(2026, 4, 20, 10, 0, tzinfo=UTC)
    made: list[tuple[TrashType, Any]] = []
    for n in range(3):
        parent = (a, b, a)[n]
        company = await Company.create(name=f"Gone {n}", parent=parent, manager=actors[1 + n % 2])
        await Company.filter(id=company.id).update(path=f"{parent.path}{company.id}/")
        company = await Company.get(id=company.id)
        if n == 0:
            await make_contact(company, "Gone Person")
            await make_contract(company, "Gone contract")
        made.append((TrashType.COMPANY, company))
    for n in range(4):
        made.append((TrashType.CONTACT, await make_contact((a, b)[n % 2], f"Gone Contact {n}")))
        contract = await make_contract(
            (a, b)[n % 2], f"Gone {n:02}", private=n % 3 == 0, owner=actors[1 + n % 2]
        )
        made.append((TrashType.CONTRACT, contract))
    for n in range(5):
        lead = await make_lead(
            f"Gone Lead {n}", owner=actors[1 + n % 3], company=(a, b, None)[n % 3], progress=20
        )
        made.append((TrashType.LEAD, lead))
    for n, (kind, record) in enumerate(made):
        (entry,) = await move_to_trash(kind, [record.id], actors[n % len(actors)])
        at = when + timedelta(hours=n // 2)  # pairs at the same time
        await TrashEntry.filter(id=entry.id).update(deleted_at=at)


async def _duplicates() -> None:
    """Records that match others (issue 18's rules) in companies, contacts and leads
    under both customers, some by two rules; the key columns set as writes set them."""
    changes: list[tuple[Any, str, dict[str, str]]] = [
        (Company, "Child 00 Beta", {"website": "https://www.same.example/a"}),
        (Company, "Child 03 Beta", {"website": "same.example", "fiscal_id": "B-12345"}),
        (Company, "Child 04 Alpha", {"fiscal_id": "b 12345", "website": "http://same.example"}),
        (Company, "Child 07 Alpha", {"fiscal_id": "B12345"}),
        (Contact, "Person 00-0", {"email": "Same@Contact.example", "phone": "600 111 222"}),
        (Contact, "Person 01-1", {"email": "same@contact.example"}),
        (Contact, "Person 02-0", {"mobile": "600-111-222"}),
        (Contact, "Person 05-2", {"phone": "600111222", "email": "SAME@contact.example"}),
        (Lead, "Lead 01", {"email": "Same@Lead.example"}),
        (Lead, "Lead 05", {"email": "same@lead.example", "phone": "611 222 333"}),
        (Lead, "Lead 02", {"mobile": "611222333"}),
        (Lead, "Lead 06", {"phone": "611-222-333", "email": "same@LEAD.example"}),
    ]
    for model, name, values in changes:
        named = {"name": name} if model is Company else {"full_name": name}
        # As a write sets them (MatchKeys), without touching the row's update time.
        await model.filter(**named).update(**values, **model.keys_for(values))


@dataclass
class CorpusCase:
    name: str
    query: str
    variables: list[dict[str, Any] | None]


def load_corpus() -> list[CorpusCase]:
    cases = []
    for path in sorted(CORPUS.glob("*.graphql")):
        text = path.read_text()
        variables: list[dict[str, Any] | None] = [
            json.loads(line.split(":", 1)[1])
            for line in text.splitlines()
            if line.startswith("# variables:")
        ]
        cases.append(CorpusCase(path.stem, text, variables or [None]))
    return cases


async def _post(
    client: httpx.AsyncClient, query: str, token: str, variables: Any = None
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


async def compiled_statements(
    paths: Differential, query: str, token: str, variables: Any = None
) -> tuple[Answer, list[str]]:
    """The compiled app's answer, checked equal to the executor's, and its statements
    after authentication (those of a request that reads nothing: the token cache
    answers it once the token has been used)."""
    await _post(paths.compiled, "{ __typename }", token)  # a token's first use records it
    with count_statements() as auth:
        await _post(paths.compiled, "{ __typename }", token)
    with count_statements() as statements:
        response = await _post(paths.compiled, query, token, variables)
    answer = Answer.of(response)
    interpreted, compiled = await paths.answers(query, variables, token)
    compare(interpreted, compiled, query)
    compare(compiled, answer, query)
    return answer, list(statements)[len(list(auth)) :]


def on_postgres() -> bool:
    return Tortoise.get_connection("default").capabilities.dialect == "postgres"


def end_cursor(body: Any) -> str | None:
    """The `pageInfo.endCursor` of the first root connection that has a next page."""
    for value in (body.get("data") or {}).values():
        if isinstance(value, dict):
            info = value.get("pageInfo") or {}
            if info.get("hasNextPage") and info.get("endCursor"):
                return str(info["endCursor"])
    return None
