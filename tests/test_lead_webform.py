"""Web-form intake (SPEC §7): the Integria IMS API 1.0 call `op=create_lead` on
/include/api.php, and `leadCreate` with a web-form token (scope LEADS_CREATE), which can
create leads and nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_graphql.models.audit import AuditEntry
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead, LeadHistory, LeadTag, LeadTagLink
from crm_graphql.models.users import User
from tests.auth_api import api_token
from tests.factories import Api, error_codes, make_company, make_lead_tag, make_lead_type, make_user
from tests.leads_api import WEBFORM_CREATE

ENDPOINT = "/include/api.php"


async def call(
    api: Api, method: str = "POST", headers: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    """The endpoint called as a form post (the default: `pass` in the body, where any
    token may travel) or as a GET (every parameter in the URL)."""
    if method == "GET":
        return await api.client.get(ENDPOINT, params=params, headers=headers)
    return await api.client.post(ENDPOINT, data=params, headers=headers)


def refused(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, (response.status_code, response.headers)
    assert response.text == "0"
    assert reason in response.headers["x-crm-error"], response.headers["x-crm-error"]


async def nothing_written() -> None:
    assert await Lead.all().count() == 0
    assert await LeadHistory.all().count() == 0
    assert await LeadTagLink.all().count() == 0
    assert await AuditEntry.filter(object_type="Lead").count() == 0


@pytest.fixture
async def tags() -> dict[str, LeadTag]:
    return {name: await make_lead_tag(name, colour="#ff0000") for name in ("Hot", "VIP", "Cold")}


async def test_the_original_positional_call_via_get(demo: Api, tags: dict[str, LeadTag]) -> None:
    # Given a full token of a CRM manager, a lead type and a company he can see
    token = await api_token(demo, "manager1")
    kind = await make_lead_type("Inbound")
    customer_b = await Company.get(name="Customer #B")
    params = ",".join(
        [
            "Ann Smith",
            "Acme Ltd",
            "Ann@Acme.example",
            "Spain",
            "2400.50",
            "20",
            "+34 600 000 001",
            "+34 600 000 002",
            "CTO",
            "user1",
            "es",
            "Call me after 5",
            str(kind.id),
            str(customer_b.id),
            "7",  # id_campaign: accepted, ignored
            ";",
            "Hot;VIP",
        ]
    )
    # When the original call comes as a GET, a full token in `pass` is refused: URLs are
    # logged (only a LEADS_CREATE token may travel in one) and nothing is written
    in_url = await call(
        demo, "GET", user="manager1", op="create_lead", params=params, **{"pass": token}
    )
    refused(in_url, 403, "a FULL token must not be sent in the URL")
    assert await Lead.all().count() == 0
    # The same GET with the token in a bearer header
    response = await call(
        demo,
        "GET",
        headers={"Authorization": f"Bearer {token}"},
        user="manager1",
        op="create_lead",
        params=params,
    )
    # Then the answer is the original's `1`, and every position is mapped
    assert (response.status_code, response.text) == (200, "1"), response.headers
    assert "x-crm-error" not in response.headers
    lead = await Lead.get(id=int(response.headers["x-crm-lead-id"]))
    assert lead.full_name == "Ann Smith"
    assert lead.prospect_company == "Acme Ltd"
    assert lead.email == "ann@acme.example"
    assert lead.country == "Spain"
    assert (lead.estimated_sale_cents, lead.currency) == (240050, "EUR")
    assert lead.progress == 20
    assert (lead.phone, lead.mobile, lead.position) == ("+34 600 000 001", "+34 600 000 002", "CTO")
    assert lead.owner_id == (await User.get(username="user1")).id
    assert lead.language == "es"
    assert lead.description == "Call me after 5"
    assert lead.lead_type_id == kind.id
    assert lead.company_id == customer_b.id
    assert lead.channel == "Web form"
    assert lead.duplicate is False
    linked = await LeadTagLink.filter(lead_id=lead.id).values_list("tag_id", flat=True)
    assert sorted(linked) == sorted([tags["Hot"].id, tags["VIP"].id])
    # Audited by the service, with its history line
    assert await AuditEntry.filter(action="CREATE", object_type="Lead", username="manager1").count()
    assert await LeadHistory.filter(lead_id=lead.id, kind="CREATED").count() == 1


async def test_post_form_with_custom_separator_and_bearer_header(
    demo: Api, tags: dict[str, LeadTag]
) -> None:
    token = await api_token(demo, "user1")
    # `token=|` splits the positions; the tags have their own separator (",")
    params = "Bob Stone|Beta SA|bob@beta.example|France|99|40||||||Hello, world||0||,|VIP, Cold"
    response = await call(
        demo,
        "POST",
        headers={"Authorization": f"Bearer {token}"},
        op="create_lead",
        token="|",
        params=params,
    )
    assert (response.status_code, response.text) == (200, "1"), response.headers
    lead = await Lead.get(full_name="Bob Stone")
    assert (lead.prospect_company, lead.country, lead.progress) == ("Beta SA", "France", 40)
    assert lead.estimated_sale_cents == 9900
    assert lead.description == "Hello, world"
    # Empty owner and id_company 0: an unowned, unmanaged lead
    assert (lead.owner_id, lead.company_id, lead.lead_type_id) == (None, None, None)
    linked = await LeadTagLink.filter(lead_id=lead.id).values_list("tag_id", flat=True)
    assert sorted(linked) == sorted([tags["VIP"].id, tags["Cold"].id])


async def test_three_positions_are_enough(demo: Api) -> None:
    token = await api_token(demo, "user1")
    response = await call(
        demo, "POST", op="create_lead", params="Carl,,carl@example.com", **{"pass": token}
    )
    assert (response.status_code, response.text) == (200, "1")
    lead = await Lead.get(email="carl@example.com")
    assert (lead.progress, lead.estimated_sale_cents, lead.prospect_company) == (0, 0, "")


async def test_named_fields_let_a_plain_html_form_post(demo: Api) -> None:
    token = await api_token(demo, "user1", "LEADS_CREATE")
    form = {
        "pass": token,
        "op": "create_lead",
        "fullname": "Dana",
        "company": "Delta",
        "email": "dana@delta.example",
        "phone": "555",
        "country": "Chile",
        "comments": "Please call",
    }
    response = await demo.client.post(ENDPOINT, data=form)
    assert (response.status_code, response.text) == (200, "1"), response.headers
    lead = await Lead.get(email="dana@delta.example")
    assert (lead.full_name, lead.prospect_company, lead.phone) == ("Dana", "Delta", "555")
    assert (lead.country, lead.description) == ("Chile", "Please call")


async def test_too_few_parameters(demo: Api) -> None:
    token = await api_token(demo, "user1")
    response = await call(demo, op="create_lead", params="Ann,Acme", **{"pass": token})
    refused(response, 400, "too few parameters: 2 given, at least 3 (fullname, company, email)")
    response = await call(demo, "POST", op="create_lead", **{"pass": token})
    refused(response, 400, "too few parameters: 0 given")
    await nothing_written()


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({5: "7"}, "progress: unknown progress code 7"),
        ({5: "abc"}, "progress: 'abc' is not a progress code"),
        ({4: "-5"}, "estimated_sale: amounts cannot be negative"),
        ({4: "lots"}, "estimated_sale: 'lots' is not an amount"),
        ({15: ";", 16: "Hot;Nope"}, "tags: no such tag: Nope"),
        ({2: "not-an-email"}, "email: not a valid e-mail address"),
        ({2: ""}, "email: an e-mail address is required"),
        ({0: ""}, "fullname: a lead needs a name"),
        ({9: "ghost"}, "owner: no such user: ghost"),
        ({12: "999"}, "id_category: no such lead type"),
        ({13: "999"}, "id_company: no such company"),
    ],
)
async def test_bad_input_writes_nothing(
    demo: Api, tags: dict[str, LeadTag], values: dict[int, str], reason: str
) -> None:
    token = await api_token(demo, "manager1")
    positions = ["Ann", "Acme", "ann@acme.example", "", "", "", "", "", "", "", "", ""]
    positions += ["", "", "", "", ""]
    for index, value in values.items():
        positions[index] = value
    response = await call(demo, op="create_lead", params=",".join(positions), **{"pass": token})
    refused(response, 400, reason)
    await nothing_written()


async def test_every_problem_is_reported_at_once(demo: Api) -> None:
    token = await api_token(demo, "user1")
    response = await call(
        demo, op="create_lead", params=",Acme,bad,,-1,7,,,,,,,,,,;,Nope", **{"pass": token}
    )
    refused(response, 400, "fullname: a lead needs a name")
    reason = response.headers["x-crm-error"]
    for part in ("email: not a valid", "estimated_sale:", "progress:", "tags: no such tag: Nope"):
        assert part in reason, reason
    await nothing_written()


async def test_a_company_the_user_cannot_see_is_refused(demo: Api) -> None:
    # user1 cannot see a top-level company managed by someone else
    rival = await make_company("Rival", manager=await User.get(username="manager1"))
    token = await api_token(demo, "user1")
    params = f"Ann,Acme,ann@acme.example,,,,,,,,,,,{rival.id}"
    response = await call(demo, op="create_lead", params=params, **{"pass": token})
    refused(response, 400, "id_company: no such company")
    await nothing_written()


async def test_reasons_are_safe_header_text(demo: Api) -> None:
    token = await api_token(demo, "user1")
    response = await call(
        demo,
        "POST",
        op="create_lead",
        token="|",
        params="Ann|Acme|ann@acme.example|||||||||||||;|Ünïcødé\r\nX-Evil: 1",
        **{"pass": token},
    )
    refused(response, 400, "tags: no such tag: ")
    assert "x-evil" not in response.headers
    assert response.headers["x-crm-error"].isascii()


async def test_authentication_and_op(demo: Api) -> None:
    params = "Ann,Acme,ann@acme.example"
    refused(await call(demo, op="create_lead", params=params), 401, "authentication required")
    refused(
        await call(demo, op="create_lead", params=params, **{"pass": "integria"}),
        401,
        "invalid or has expired",
    )
    token = await api_token(demo, "user1")
    refused(
        await call(demo, op="get_incidents", params=params, **{"pass": token}),
        400,
        "unknown op 'get_incidents'",
    )
    refused(await call(demo, params=params, **{"pass": token}), 400, "missing op")
    # A revoked token is refused
    listed = await demo.data("{ apiTokens { id } }", as_user="user1")
    await demo.data(
        "mutation($id: ID!) { apiTokenRevoke(id: $id) { errors { code } } }",
        {"id": listed["apiTokens"][0]["id"]},
        as_user="user1",
    )
    refused(await call(demo, op="create_lead", params=params, **{"pass": token}), 401, "invalid")
    await nothing_written()


async def test_a_user_without_lw_or_the_wrong_user_is_forbidden(demo: Api) -> None:
    params = "Ann,Acme,ann@acme.example"
    # user2 holds no lead bits (Support operator)
    for scope in ("FULL", "LEADS_CREATE"):
        token = await api_token(demo, "user2", scope)
        response = await call(demo, op="create_lead", params=params, **{"pass": token})
        refused(response, 403, "user 'user2' needs LW or LM")
    # A reader (LR only) cannot create either
    await make_user("reader", password="reader-pass", bits=("LR",))
    demo.tokens["reader"] = await demo.login("reader", "reader-pass")
    token = await api_token(demo, "reader")
    refused(await call(demo, op="create_lead", params=params, **{"pass": token}), 403, "needs LW")
    # `user` must be the token's user
    token = await api_token(demo, "user1")
    response = await call(demo, op="create_lead", params=params, user="admin", **{"pass": token})
    refused(response, 403, "user 'admin' is not the API token's user")
    await nothing_written()
    denied = await AuditEntry.filter(action="DENIED", object_type="Api").values_list(
        "username", flat=True
    )
    assert sorted(denied) == ["reader", "user1", "user2", "user2"]


async def test_web_form_token_creates_through_both_and_does_nothing_else(demo: Api) -> None:
    token = await api_token(demo, "user1", "LEADS_CREATE")
    # Through the API 1.0 endpoint: a pool lead (no owner, no managing company)
    response = await call(
        demo, "POST", op="create_lead", params="Eve,Echo,eve@echo.example", **{"pass": token}
    )
    assert (response.status_code, response.text) == (200, "1"), response.headers
    eve = await Lead.get(email="eve@echo.example")
    assert (eve.owner_id, eve.company_id, eve.channel) == (None, None, "Web form")
    # Through leadCreate: the payload holds only the id
    created = await demo.data(
        WEBFORM_CREATE,
        {"input": {"fullName": "Fay", "email": "fay@fox.example", "prospectCompany": "Fox"}},
        token=token,
    )
    assert created["leadCreate"]["errors"] == []
    fay = await Lead.get(id=int(created["leadCreate"]["leadId"]))
    assert (fay.owner_id, fay.company_id, fay.channel) == (None, None, "Web form")
    # It cannot read leads, nor anything else
    for query in ("{ leads { totalCount } }", "{ leadTags { id } }", "{ viewer { id } }"):
        assert error_codes(await demo.gql(query, token=token)) == ["FORBIDDEN"], query
    export = await demo.client.get(
        "/export/leads.csv", headers={"Authorization": f"Bearer {token}"}
    )
    assert export.status_code == 403
    # It cannot choose the owner or the managing company, on either path
    refused(
        await call(
            demo, op="create_lead", params="Gil,,gil@g.example,,,,,,,user1", **{"pass": token}
        ),
        403,
        "owner: a web-form token cannot set this",
    )
    customer_a = await Company.get(name="Customer #A")
    refused(
        await call(
            demo,
            op="create_lead",
            params=f"Gil,,gil@g.example,,,,,,,,,,,{customer_a.id}",
            **{"pass": token},
        ),
        403,
        "id_company: a web-form token cannot set this",
    )
    owner_id = (await User.get(username="user1")).id
    refused_gql = await demo.data(
        WEBFORM_CREATE,
        {"input": {"fullName": "Gil", "email": "gil@g.example", "ownerId": owner_id}},
        token=token,
    )
    assert [e["code"] for e in refused_gql["leadCreate"]["errors"]] == ["FORBIDDEN"]
    # a web form must give a name and an e-mail
    for values, field in (
        ({"fullName": "Hal"}, "email"),
        ({"fullName": " ", "email": "h@h.example"}, "fullName"),
    ):
        missing = await demo.data(WEBFORM_CREATE, {"input": values}, token=token)
        assert [(e["field"], e["code"]) for e in missing["leadCreate"]["errors"]] == [
            (field, "REQUIRED")
        ]
    assert await Lead.filter(full_name="Gil").count() == 0
    assert await Lead.all().count() == 2


async def test_duplicate_email_is_flagged_or_refused(demo: Api) -> None:
    """A web-form token is public (it is in the page): its answers never tell whether an
    e-mail is already known, on either path; duplicates are flagged on the lead."""
    token = await api_token(demo, "user1", "LEADS_CREATE")
    params = "Hal,Hotel,hal@hotel.example"
    first = await call(demo, "GET", op="create_lead", params=params, **{"pass": token})
    # The same e-mail (any case) again: created, flagged, and answered alike
    second = await call(demo, "GET", op="create_lead", params=params.upper(), **{"pass": token})
    for response in (first, second):
        assert (response.status_code, response.text) == (200, "1")
        assert "x-crm-duplicate" not in response.headers
    assert set(first.headers) == set(second.headers)
    assert (await Lead.get(id=int(second.headers["x-crm-lead-id"]))).duplicate is True
    # leadCreate: a new and a known e-mail get the same payload; the known one is flagged
    answers = []
    for email in ("new@hotel.example", "hal@hotel.example"):
        variables: dict[str, Any] = {"input": {"fullName": "Hal", "email": email}}
        body = (await demo.data(WEBFORM_CREATE, variables, token=token))["leadCreate"]
        answers.append({**body, "leadId": "x"})
        assert (await Lead.get(id=int(body["leadId"]))).duplicate is (email[0] == "h")
    assert answers[0] == answers[1] == {"leadId": "x", "duplicate": False, "errors": []}
    # refuseDuplicates is refused for any e-mail, known or not, and writes nothing
    refusals = []
    for email in ("other@hotel.example", "hal@hotel.example"):
        variables = {"input": {"fullName": "Hal", "email": email}, "refuse": True}
        refusals.append(await demo.gql(WEBFORM_CREATE, variables, token=token))
    assert refusals[0] == refusals[1]
    assert [(e["field"], e["code"]) for e in refusals[0]["data"]["leadCreate"]["errors"]] == [
        ("refuseDuplicates", "FORBIDDEN")
    ]
    assert await Lead.filter(email="hal@hotel.example").count() == 3
    assert await Lead.filter(email="other@hotel.example").count() == 0
    # A full token still learns it, and may refuse
    full = await api_token(demo, "user1")
    variables = {"input": {"fullName": "Hal", "email": "hal@hotel.example"}}
    assert (await demo.data(WEBFORM_CREATE, variables, token=full))["leadCreate"]["duplicate"]
    refused_gql = await demo.data(WEBFORM_CREATE, {**variables, "refuse": True}, token=full)
    assert [e["code"] for e in refused_gql["leadCreate"]["errors"]] == ["DUPLICATE"]


async def test_a_file_in_the_form_body_is_refused(demo: Api) -> None:
    token = await api_token(demo, "user1")
    response = await demo.client.post(
        ENDPOINT,
        data={"pass": token, "op": "create_lead", "params": "Ann,Acme,ann@acme.example"},
        files={"upload": ("a.txt", b"hello", "text/plain")},
    )
    refused(response, 400, "malformed form body")
    await nothing_written()


async def test_the_documented_web_form_works(demo: Api) -> None:
    """crm_graphql/static/lead-web-form.html (served as /lead-web-form.html): its
    mutation and both forms' field names, as a browser would send them."""
    page = (Path(__file__).parent.parent / "crm_graphql/static/lead-web-form.html").read_text()
    token = await api_token(demo, "user1", "LEADS_CREATE")
    script_form, plain_form = page.split("<form")[1:3]
    mutation = re.search(r"const MUTATION = `(.*?)`;", page, re.S)
    assert mutation is not None
    # Form 1: every named input of the first form becomes a LeadCreateInput field
    names = re.findall(r'<(?:input|textarea) name="(\w+)"', script_form)
    values = {name: f"{name} value" for name in names} | {"email": "web@form.example"}
    body = await demo.data(
        mutation.group(1),
        {"input": values},
        token=token,
    )
    assert body["leadCreate"]["errors"] == [] and body["leadCreate"]["leadId"]
    # Form 2: posted as a browser posts it, hidden fields included
    assert 'action="/include/api.php"' in plain_form
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', plain_form))
    fields["pass"] = token
    for name in re.findall(r'<(?:input|textarea) name="(\w+)"', plain_form):
        fields[name] = f"{name} value"
    fields["email"] = "plain@form.example"
    assert fields.pop("return_type") == "html"
    response = await demo.client.post(ENDPOINT, data=fields)
    assert (response.status_code, response.text) == (200, "1"), response.headers
    lead = await Lead.get(email="plain@form.example")
    assert (lead.full_name, lead.description) == ("fullname value", "comments value")
    # No CORS: a cross-origin script cannot call /graphql (its preflight is refused)
    preflight = await demo.client.options(
        "/graphql",
        headers={"Origin": "https://www.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
