"""Offline GraphiQL page for the CRM GraphQL endpoint.

GraphiQL (3.9.0, the last major line with a browser-global UMD build) and
React 18.3.1 are vendored under ``crm_graphql/static/graphiql/`` (see the
README there), so the page loads nothing from a CDN or any external host.

The application is expected to serve :data:`STATIC_DIR` at
:data:`STATIC_URL_PREFIX` (e.g. with ``starlette.staticfiles.StaticFiles``)
and to answer ``GET`` on the GraphQL endpoint with :func:`graphiql_html`.
The page enables GraphiQL's headers editor so a user can send
``Authorization: Bearer <token>`` after logging in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

__all__ = [
    "ASSET_FILES",
    "DEFAULT_QUERY",
    "STATIC_DIR",
    "STATIC_URL_PREFIX",
    "graphiql_html",
]

STATIC_DIR: Final[Path] = Path(__file__).resolve().parent / "static" / "graphiql"
"""Folder holding the vendored GraphiQL / React assets."""

STATIC_URL_PREFIX: Final = "/static/graphiql"
"""URL path at which :data:`STATIC_DIR` must be served."""

ASSET_FILES: Final[tuple[str, ...]] = (
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
)
"""Files of :data:`STATIC_DIR` the page loads (scripts in load order)."""

DEFAULT_QUERY: Final = """\
# Welcome to the CRM GraphQL API.
#
# Most operations need an access token.
# To get one, run:
#
#   mutation {
#     login(username: "user1",
#           password: "user1") {
#       token
#       errors { field code message }
#     }
#   }
#
# then open the "Headers" tab below and put:
#
#   {"Authorization": "Bearer <token>"}
#
# (<token> is the token returned by login).
# Headers are kept in this browser's local
# storage between visits.

query {
  __typename
}
"""
"""Query shown in the editor on a first visit."""

_DEFAULT_HEADERS: Final = "{}"


def _js_literal(value: str) -> str:
    """Encode ``value`` as a JS string literal that is safe inside ``<script>``."""
    return (
        json.dumps(value, ensure_ascii=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def graphiql_html(endpoint: str = "/graphql") -> str:
    """Return a complete HTML page mounting GraphiQL against ``endpoint``.

    The page loads only the vendored assets under :data:`STATIC_URL_PREFIX`;
    its fetcher POSTs the GraphQL request as JSON to ``endpoint`` together
    with the headers typed in GraphiQL's Headers tab (persisted locally).
    """
    css = f"{STATIC_URL_PREFIX}/graphiql.min.css"
    scripts = "\n".join(
        f'    <script src="{STATIC_URL_PREFIX}/{name}"></script>'
        for name in ASSET_FILES
        if name.endswith(".js")
    )
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>CRM GraphQL - GraphiQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{css}">
    <style>
      html, body {{ height: 100%; margin: 0; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
      .graphiql-loading {{ font-family: system-ui, sans-serif; padding: 1rem; }}
    </style>
  </head>
  <body>
    <div id="graphiql"><p class="graphiql-loading">Loading GraphiQL&hellip;</p></div>
    <noscript>GraphiQL needs JavaScript.</noscript>
{scripts}
    <script>
      (function () {{
        "use strict";
        var endpoint = {_js_literal(endpoint)};

        function fetcher(params, opts) {{
          var headers = Object.assign(
            {{"Accept": "application/json", "Content-Type": "application/json"}},
            (opts && opts.headers) || {{}}
          );
          return fetch(endpoint, {{
            method: "POST",
            headers: headers,
            body: JSON.stringify(params),
            credentials: "same-origin"
          }}).then(function (response) {{
            return response.text().then(function (text) {{
              try {{
                return JSON.parse(text);
              }} catch (err) {{
                return {{errors: [{{message: "HTTP " + response.status + ": " + text}}]}};
              }}
            }});
          }});
        }}

        var root = ReactDOM.createRoot(document.getElementById("graphiql"));
        root.render(
          React.createElement(GraphiQL, {{
            fetcher: fetcher,
            defaultQuery: {_js_literal(DEFAULT_QUERY)},
            isHeadersEditorEnabled: true,
            defaultHeaders: {_js_literal(_DEFAULT_HEADERS)},
            shouldPersistHeaders: true,
            defaultEditorToolsVisibility: "headers"
          }})
        );
      }})();
    </script>
  </body>
</html>
"""
