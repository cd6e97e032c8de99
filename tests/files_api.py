"""Files over HTTP as clients send them: GraphQL multipart uploads (operations, map,
then the file) and downloads from GET /files/{id}."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.factories import Api

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"

UPLOAD = """mutation Upload($input: FileUploadInput!) {
  fileUpload(input: $input) {
    file { id originalName contentType size sha256 description downloadUrl viewerCan { delete }
           ownerKind ownerId createdAt uploader { username } }
    errors { field code message }
  }
}"""


def multipart(
    variables: dict[str, Any], content: bytes, name: str, content_type: str
) -> dict[str, Any]:
    """httpx arguments for a GraphQL multipart request (operations, map, then the file)."""
    operations = {"query": UPLOAD, "operationName": "Upload", "variables": variables}
    return {
        "data": {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        "files": {"0": (name, content, content_type)},
    }


async def upload(
    api: Api,
    user: str | None,
    owner_id: str,
    content: bytes = PDF,
    *,
    kind: str = "COMPANY",
    name: str = "Offer 2024.pdf",
    content_type: str = "application/pdf",
    description: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """The response body of a fileUpload (status 200 asserted)."""
    variables: dict[str, Any] = {"input": {"ownerKind": kind, "ownerId": owner_id, "file": None}}
    if description is not None:
        variables["input"]["description"] = description
    # Without a token, the header a cross-site form cannot send (websecurity.py).
    headers = {"Authorization": f"Bearer {api.tokens[user]}"} if user else {"X-CRM-CSRF": "1"}
    response = await (client or api.client).post(
        "/graphql", headers=headers, **multipart(variables, content, name, content_type)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def uploaded(api: Api, user: str, owner_id: str, **kw: Any) -> dict[str, Any]:
    """The stored file of an upload that must succeed."""
    body = await upload(api, user, owner_id, **kw)
    assert "errors" not in body, body
    result = body["data"]["fileUpload"]
    assert result["errors"] == [], result
    return result["file"]


async def download(api: Api, user: str | None, url: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.tokens[user]}"} if user else {}
    return await api.client.get(url, headers=headers)
