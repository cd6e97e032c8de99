"""Contracts over HTTP: the mutations with every field and a contract made as a
client makes it."""

from __future__ import annotations

from typing import Any

from tests.factories import Api, company_id

FIELDS = """id reference number description dateBegin dateEnd status private slaId groupId
version company { name } owner { username } contractType { name }
customFields { name value } relatedContracts { reference } viewerCan { edit delete }"""
CREATE = f"""mutation($input: ContractCreateInput!) {{
  contractCreate(input: $input) {{ contract {{ {FIELDS} }} errors {{ field code message }} }}
}}"""
UPDATE = f"""mutation($input: ContractUpdateInput!) {{
  contractUpdate(input: $input) {{ contract {{ {FIELDS} }} errors {{ field code message }} }}
}}"""
DELETE = "mutation($id: ID!) { contractDelete(id: $id) { deletedId errors { field code } } }"


async def create(api: Api, user: str, company: str, **values: Any) -> dict[str, Any]:
    payload = {
        "companyId": await company_id(company),
        "reference": "Support 2024",
        "dateBegin": "2024-01-01",
        **values,
    }
    data = await api.data(CREATE, {"input": payload}, as_user=user)
    return data["contractCreate"]


async def created(api: Api, user: str, company: str, **values: Any) -> dict[str, Any]:
    result = await create(api, user, company, **values)
    assert result["errors"] == [], result
    return result["contract"]
