"""/include/api.php: the `op=create_lead` call of Integria IMS's API 1.0 (SPEC §7), so a
web form written for the original keeps working when pointed at this server.

Parameters come from the query string and, for a POST, from the form body (the body
wins, as PHP's `$_REQUEST`): `op`, `params` (the positional values joined by `token`,
default `,`), `user` (optional; must be the token's user when given) and `pass`, which
here is one of our API tokens (`crm_...`) instead of the original's shared API
password; an `Authorization: Bearer` header works too. The original's `user_pass` is
ignored; `return_type=html` asks for an HTML page for a web form's visitor (a thank-you
page, or what to correct) instead of the plain-text answer, with the same status and
headers.

GET /lead-web-form.html serves the example form (static/lead-web-form.html) with its
URLs made absolute for the server's own origin, so a saved copy posts back here.

Positions: fullname, company, email, country, estimated_sale, progress, phone, mobile,
position, owner, language, comments, id_category, id_company, id_campaign, tags
separator, tag names. The first three must be present; missing trailing ones are empty.
`id_campaign` is accepted and ignored: this server has no campaigns. Without `params`,
the same names are read as separate parameters (`fullname=...&email=...`, the tags
separator as `tags_token`), so a plain HTML form needs no JavaScript.

A token in the query string (`?pass=`) must be a LEADS_CREATE one: URLs are logged.

The answer is `1` (with `X-CRM-Lead-Id`; never whether the e-mail was a duplicate) or
`0` as the original's, but a failure also
carries a 4xx status and an `X-CRM-Error` header naming every problem: 400 bad input or
unknown op, 401 no or bad token, 403 a token user without LW/LM, a `user` that is not
the token's, or a web-form token setting the owner or managing company. Denials are
audited; the lead is created by `services.leads.create_lead` in one transaction."""

from __future__ import annotations

import html
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from tortoise.queryset import QuerySet

from crm_graphql.errors import ErrorCode, FieldError, PayloadErrors
from crm_graphql.models.auth import TokenScope
from crm_graphql.models.companies import Company
from crm_graphql.models.leads import Lead, LeadTag
from crm_graphql.models.users import User
from crm_graphql.permissions.companies import visible_companies_q
from crm_graphql.permissions.leads import can_create_lead
from crm_graphql.services import audit
from crm_graphql.services import leads as lead_service
from crm_graphql.services.auth import InvalidToken, Viewer, authenticate
from crm_graphql.services.mutations import atomic
from crm_graphql.services.orm import max_length
from crm_graphql.services.setup import get_setup

log = logging.getLogger("crm_graphql.leads_api")

POSITIONS = (
    "fullname",
    "company",
    "email",
    "country",
    "estimated_sale",
    "progress",
    "phone",
    "mobile",
    "position",
    "owner",
    "language",
    "comments",
    "id_category",
    "id_company",
    "id_campaign",
    "tags_token",
    "tags",
)
REQUIRED = 3
ACCEPTED_SCOPES = (TokenScope.FULL, TokenScope.LEADS_CREATE)
# The service names fields as GraphQL does; callers of this API know the positional names.
_FIELD_NAMES = {
    "fullName": "fullname",
    "prospectCompany": "company",
    "estimatedSale": "estimated_sale",
    "ownerId": "owner",
    "companyId": "id_company",
    "leadTypeId": "id_category",
    "tagIds": "tags",
    "description": "comments",
}
_MAX_REASON = 1000


class ApiFailure(Exception):
    """A refused call: the status and the reason for `X-CRM-Error`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _header_text(text: str) -> str:
    """A header value: printable ASCII only (reasons quote the caller's input, and a
    CR/LF or a non-Latin-1 character must not break or fail the response)."""
    text = "".join(c if c.isprintable() else " " for c in text)
    return text.encode("ascii", "backslashreplace").decode("ascii")[:_MAX_REASON]


def _answer(
    status: int,
    reason: str | None = None,
    lead: Lead | None = None,
    page: Request | None = None,
) -> Response:
    """The original's `1`/`0`, or with `page` (return_type=html) a page for a visitor."""
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if reason is not None:
        headers["X-CRM-Error"] = _header_text(reason)
    if lead is not None:
        # Never whether the e-mail was known: a web form's token must not be an oracle
        # of the CRM's contacts (duplicates are flagged on the lead for review).
        headers["X-CRM-Lead-Id"] = str(lead.id)
    if page is not None:
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return HTMLResponse(_visitor_page(reason, page.headers.get("referer", "")), status, headers)
    return PlainTextResponse("0" if reason is not None else "1", status, headers)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto;
padding: 0 1rem; }}</style></head>
<body><h1>{title}</h1>{body}{back}</body></html>
"""


def _visitor_page(reason: str | None, referer: str) -> str:
    """Every value from the request is escaped: the page is shown on the server's origin."""
    back = ""
    if referer.startswith(("https://", "http://")):
        back = f'<p><a href="{html.escape(referer)}">Back to the form</a></p>'
    if reason is None:
        title = "Thank you"
        body = "<p>Your message has been received. We will be in touch.</p>"
    else:
        title = "Your message could not be sent"
        body = (
            "<p>Please correct the following and send the form again:</p>"
            f"<p>{html.escape(reason)}</p>"
        )
    return _PAGE.format(title=title, body=body, back=back)


WEB_FORM = Path(__file__).resolve().parent.parent / "static" / "lead-web-form.html"


@cache
def _web_form_source() -> str:
    return WEB_FORM.read_text(encoding="utf-8")


async def web_form(request: Request) -> Response:
    """GET /lead-web-form.html: the example form, its URLs absolute for this server (as
    the client reached it: behind a proxy, uvicorn's proxy headers give the outer
    address), so the no-JavaScript form also works from a copy on another site."""
    origin = str(request.base_url).rstrip("/")
    # A string literal that cannot end the <script> element, whatever the Host header.
    endpoint = json.dumps(f"{origin}/graphql").replace("<", "\\u003c")
    page = (
        _web_form_source()
        .replace('action="/include/api.php"', f'action="{html.escape(origin)}/include/api.php"')
        .replace('const ENDPOINT = "/graphql";', f"const ENDPOINT = {endpoint};")
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


async def _parameters(request: Request) -> dict[str, str]:
    """Query string, then the form body over it (as PHP's `$_REQUEST`)."""
    values = dict(request.query_params)
    if request.method == "POST":
        try:
            form = await request.form(max_files=0, max_fields=100)
        except HTTPException as exc:  # malformed multipart, or a file part
            raise ApiFailure(400, f"malformed form body: {exc.detail}") from None
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                values[key] = value
    for key, value in values.items():
        if "\x00" in key or "\x00" in value:
            # PostgreSQL stores no NUL in text; refused on SQLite too, for one behaviour.
            raise ApiFailure(400, f"{_header_text(key)[:40]}: a NUL byte is not allowed")
    return values


async def _viewer(request: Request, params: dict[str, str]) -> Viewer:
    """The token's viewer: `pass`, else the bearer header the middleware resolved."""
    in_url = request.query_params.get("pass", "").strip()
    if in_url:
        # A URL ends up in access logs, proxies and browser history: only a web form's
        # token, which can do nothing but create leads, may travel in one.
        try:
            found = await authenticate(in_url)
        except InvalidToken:
            raise ApiFailure(401, "the API token (pass) is invalid or has expired") from None
        if found.scope != TokenScope.LEADS_CREATE:
            raise await _deny(
                found,
                f"a {found.scope.value} token must not be sent in the URL: use a "
                "LEADS_CREATE token, or send it in the POST body or a bearer header",
                request.scope.get("state", {}).get("request_id", ""),
            )
    secret = params.get("pass", "").strip()
    if secret:
        try:
            return await authenticate(secret)
        except InvalidToken:
            raise ApiFailure(401, "the API token (pass) is invalid or has expired") from None
    viewer = request.scope.get("state", {}).get("viewer")
    if viewer is None:
        raise ApiFailure(
            401, "authentication required: give an API token as `pass` or a bearer header"
        )
    return viewer


def _positions(params: dict[str, str]) -> dict[str, str]:
    """The 17 positional values by name, trimmed; too few (or non-empty extras) refused."""
    if "params" in params:
        raw = params["params"]
        separator = params.get("token") or ","
        values = raw.split(separator) if raw != "" else []
    else:
        named = [params.get(name) for name in POSITIONS]
        given = [i for i, v in enumerate(named) if v is not None]
        values = [v or "" for v in named[: given[-1] + 1]] if given else []
    if len(values) < REQUIRED:
        raise ApiFailure(
            400,
            f"too few parameters: {len(values)} given, at least {REQUIRED} "
            "(fullname, company, email)",
        )
    if any(v.strip() for v in values[len(POSITIONS) :]):
        raise ApiFailure(
            400,
            f"too many parameters: {len(values)} given, at most {len(POSITIONS)} (does a "
            "value hold the separator? choose another one with `token`)",
        )
    values += [""] * (len(POSITIONS) - len(values))
    return {name: value.strip() for name, value in zip(POSITIONS, values, strict=False)}


def _unset(value: str) -> bool:
    """The original's "none" for an id: empty or 0."""
    return value == "" or value.lstrip("0") == ""


async def _lead_data(
    viewer: Viewer, given: dict[str, str], errors: list[FieldError]
) -> tuple[dict[str, Any], QuerySet[Company]]:
    """The create_lead input for the positional values, and the companies the managing
    company may be chosen from. Problems the service cannot see are added to `errors`."""
    web_form = viewer.scope == TokenScope.LEADS_CREATE
    data: dict[str, Any] = {
        "full_name": given["fullname"],
        "prospect_company": given["company"],
        "email": given["email"],
        "country": given["country"],
        "estimated_sale": given["estimated_sale"] or "0",
        "phone": given["phone"],
        "mobile": given["mobile"],
        "position": given["position"],
        "language": given["language"],
        "description": given["comments"],
        "owner_id": None,
        "company_id": None,
    }
    if not given["email"]:
        # The original refuses a lead without e-mail (it is how duplicates are found).
        errors.append(FieldError("email", ErrorCode.REQUIRED, "An e-mail address is required."))
    try:
        data["progress"] = int(given["progress"] or "0")
    except ValueError:
        errors.append(
            FieldError(
                "progress", ErrorCode.INVALID, f"'{given['progress']}' is not a progress code."
            )
        )
    if not _unset(given["id_category"]):
        data["lead_type_id"] = given["id_category"]
    owner, company = given["owner"], given["id_company"]
    if web_form and owner:
        errors.append(
            FieldError("ownerId", ErrorCode.FORBIDDEN, "A web-form token cannot set this.")
        )
    elif owner:
        found = []
        if len(owner) <= max_length(User, "username"):  # longer: no such user
            found = await User.filter(username=owner, enabled=True).values_list("id", flat=True)
        if found:
            data["owner_id"] = found[0]
        else:
            errors.append(FieldError("ownerId", ErrorCode.NOT_FOUND, f"No such user: {owner}."))
    if web_form and not _unset(company):
        errors.append(
            FieldError("companyId", ErrorCode.FORBIDDEN, "A web-form token cannot set this.")
        )
    elif not _unset(company):
        data["company_id"] = company
    names = [given["tags"]]
    if given["tags_token"]:
        names = given["tags"].split(given["tags_token"])
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if names:
        # A name longer than the column is no tag's (and Tortoise refuses to compare it).
        fitting = [n for n in names if len(n) <= max_length(LeadTag, "name")]
        tags = dict(await LeadTag.filter(name__in=fitting).values_list("name", "id"))
        missing = [n for n in names if n not in tags]
        if missing:
            errors.append(
                FieldError("tagIds", ErrorCode.NOT_FOUND, f"No such tag: {', '.join(missing)}.")
            )
        data["tag_ids"] = [tags[n] for n in names if n in tags]
    # A web-form token sees every company: the service only checks the id exists (and the
    # token cannot set one anyway); a full token may name only companies it can see.
    companies = Company.all() if web_form else Company.filter(visible_companies_q(viewer))
    return data, companies


def _reason(errors: list[FieldError]) -> str:
    """Every problem as `position: message`, in the order of the positions."""
    named = []
    for error in errors:
        name = _FIELD_NAMES.get(error.field or "", error.field or "params")
        message = error.message[:1].lower() + error.message[1:].rstrip(".")
        order = POSITIONS.index(name) if name in POSITIONS else len(POSITIONS)
        named.append((order, f"{name}: {message}"))
    return "; ".join(text for _, text in sorted(named))


async def _deny(viewer: Viewer, reason: str, request_id: str) -> ApiFailure:
    await audit.record(
        viewer.user, audit.DENIED, "Api", "create_lead", {"reason": reason}, request_id
    )
    return ApiFailure(403, reason)


async def _create_lead(
    request: Request, params: dict[str, str], request_id: str, page: Request | None
) -> Response:
    viewer = await _viewer(request, params)
    op = params.get("op", "").strip()
    if op != "create_lead":
        raise ApiFailure(
            400, f"unknown op '{op}': only create_lead is served" if op else "missing op"
        )
    if viewer.scope not in ACCEPTED_SCOPES:
        raise await _deny(viewer, f"token scope {viewer.scope.value}", request_id)
    user = params.get("user", "").strip()
    if user and user != viewer.user.username:
        raise await _deny(viewer, f"user '{user}' is not the API token's user", request_id)
    if not can_create_lead(viewer):
        raise await _deny(
            viewer, f"user '{viewer.user.username}' needs LW or LM to create leads", request_id
        )
    given = _positions(params)

    async def work() -> Lead:
        errors: list[FieldError] = []
        data, companies = await _lead_data(viewer, given, errors)
        setup = await get_setup()
        # A web form's channel, as leadCreate with a web-form token: CRM setup's first.
        data["channel"] = lead_service.channels(setup)[0]
        try:
            lead = await lead_service.create_lead(
                viewer, data, setup, visible_companies=companies, request_id=request_id
            )
        except PayloadErrors as exc:
            raise PayloadErrors([*errors, *exc.errors]) from None
        if errors:
            # Our own checks failed but the service's passed: roll the lead back, so every
            # problem is reported in one answer and nothing is written.
            raise PayloadErrors(errors)
        return lead

    lead, errors = await atomic(work)
    if errors:
        reason = _reason(errors)
        if any(e.code == ErrorCode.FORBIDDEN for e in errors):
            raise await _deny(viewer, reason, request_id)
        raise ApiFailure(400, reason)
    assert lead is not None
    return _answer(200, lead=lead, page=page)


async def api_php(request: Request) -> Response:
    """GET or POST /include/api.php (see the module docstring)."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    # return_type=html in the query string counts even when the body cannot be read.
    page = request if request.query_params.get("return_type") == "html" else None
    try:
        # Outside the catch-all below: the request middleware's body limit must reach it.
        params = await _parameters(request)
    except ApiFailure as exc:
        return _answer(exc.status, exc.reason, page=page)
    page = request if params.get("return_type", "").strip().lower() == "html" else None
    try:
        return await _create_lead(request, params, request_id, page)
    except ApiFailure as exc:
        return _answer(exc.status, exc.reason, page=page)
    except Exception:
        # Never a stack trace: `0`, a reason with the request id, the traceback in the log.
        log.exception("request %s: create_lead failed", request_id)
        return _answer(503, f"internal error (request {request_id})", page=page)
