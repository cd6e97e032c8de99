"""The per-request context: settings, the viewer (authenticated once by the HTTP
middleware), DataLoaders, and the request id used in logs and error reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from graphql import DocumentNode
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from crm_graphql.errors import Forbidden, Unauthenticated
from crm_graphql.models.auth import TokenScope
from crm_graphql.services.auth import Viewer
from crm_graphql.settings import Settings

if TYPE_CHECKING:
    from crm_graphql.dataloaders import Loaders


@dataclass
class Context:
    request: Request
    response: Response | None
    settings: Settings
    viewer: Viewer | None
    loaders: Loaders
    request_id: str
    client_address: str
    # Permission checks are synchronous; denials are collected here and written to the
    # audit log once the operation ends.
    denials: list[dict[str, Any]] = field(default_factory=list)
    # A WebSocket connection's `connection_init` payload (strawberry sets it), and the
    # token it authenticated with, checked again while its subscriptions run.
    connection_params: dict[str, Any] | None = None
    raw_token: str | None = None
    # The document the compiled read path answered (extensions/compiled.py), for the
    # view's lane of repeated reads (graphql_app.py).
    compiled_document: DocumentNode | None = None
    # The lane tried the compiled path for this request and it declined: the executor
    # answers without a second try.
    compiled_declined: bool = False

    def require_viewer(self, scope: TokenScope = TokenScope.FULL) -> Viewer:
        """The viewer, or UNAUTHENTICATED / FORBIDDEN when the token's scope is too narrow."""
        if self.viewer is None:
            raise Unauthenticated()
        if self.viewer.scope != TokenScope.FULL and self.viewer.scope != scope:
            raise Forbidden("This API token's scope does not allow this operation.")
        return self.viewer

    def deny(self, what: str, reason: str) -> Forbidden:
        """Record a denied access and return the error to raise."""
        self.denials.append({"what": what, "reason": reason})
        return Forbidden()


Info: TypeAlias = StrawberryInfo[Context, None]
