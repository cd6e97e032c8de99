"""CRM setup over HTTP: the invoice logo uploaded as a client uploads it."""

from __future__ import annotations

import json
from typing import Any

from tests.factories import Api

LOGO = """mutation Logo($file: Upload!) {
  crmSetupLogoUpload(file: $file) {
    setup { version invoiceLogo { id originalName contentType size } }
    errors { field code message }
  }
}"""


async def upload_logo(
    api: Api, user: str, content: bytes, name: str = "logo.png", content_type: str = "image/png"
) -> dict[str, Any]:
    operations = {"query": LOGO, "operationName": "Logo", "variables": {"file": None}}
    response = await api.client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {api.tokens[user]}"},
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, content_type)},
    )
    assert response.status_code == 200, response.text
    return response.json()
