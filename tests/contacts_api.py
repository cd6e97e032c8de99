"""Contacts over HTTP: a contact made as a client makes it."""

from __future__ import annotations

from tests.factories import Api

CREATE = """mutation($input: ContactCreateInput!) {
  contactCreate(input: $input) { contact { id fullName email company { name } viewerCan { edit } }
                                 errors { field code message } }
}"""


async def create_contact(api: Api, user: str, company: str, name: str, email: str) -> dict:
    """A contact made as a client makes it; the payload errors must be empty."""
    result = (
        await api.data(
            CREATE,
            {"input": {"companyId": company, "fullName": name, "email": email}},
            as_user=user,
        )
    )["contactCreate"]
    assert result["errors"] == [], result
    return result["contact"]
