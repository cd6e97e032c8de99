"""Leads over HTTP: the create mutations clients send (the full one, a web form's, a
short one) and leads and lead e-mail set up as a client does."""

from __future__ import annotations

from typing import Any

from tests.factories import Api
from tests.mailservers import SmtpServer

LEAD_FIELDS = """id fullName email owner { username } company { name } progress { code name }
estimatedSale currency duplicate version closed tags { name } viewerCan { edit take delete }"""
CREATE = f"""mutation($i: LeadCreateInput!, $r: Boolean! = false) {{
  leadCreate(input: $i, refuseDuplicates: $r) {{
    lead {{ {LEAD_FIELDS} }} leadId duplicate errors {{ field code message }} }} }}"""
WEBFORM_CREATE = """mutation($input: LeadCreateInput!, $refuse: Boolean! = false) {
  leadCreate(input: $input, refuseDuplicates: $refuse) {
    leadId duplicate errors { field code message }
  }
}"""
CREATE_WITH_COMPANY = """mutation($i: LeadCreateInput!) { leadCreate(input: $i) {
  lead { id company { name } } errors { field code } } }"""
REFERENCE = "crm-inbox@ourco.example"
SEND = """mutation($i: LeadSendEmailInput!) { leadSendEmail(input: $i) {
  outgoingMail { id state subject recipients } lead { id }
  errors { field code message } } }"""


async def create(api: Api, user: str, **values: Any) -> dict[str, Any]:
    values.setdefault("fullName", "Ramon Guy")
    body = await api.data(CREATE, {"i": values}, as_user=user)
    assert body["leadCreate"]["errors"] == [], body
    return body["leadCreate"]["lead"]


async def configure(api: Api, smtp: SmtpServer) -> None:
    version = (await api.data("{ crmSetup { version } }", as_user="admin"))["crmSetup"]["version"]
    body = await api.data(
        "mutation($i: CrmSetupUpdateInput!) { crmSetupUpdate(input: $i) { errors { field } } }",
        {"i": {"version": version, "smtpHost": smtp.host, "smtpPort": smtp.port,
               "smtpSecurity": "NONE", "mailReferenceAddress": REFERENCE}},
        as_user="admin",
    )  # fmt: skip
    assert body["crmSetupUpdate"]["errors"] == []


async def prospect(api: Api, user: str = "user1", **values: Any) -> dict[str, Any]:
    values.setdefault("email", "ramon@prospect.example")
    values.setdefault("language", "en")
    return await create(api, user, **values)
