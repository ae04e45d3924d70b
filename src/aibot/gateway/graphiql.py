"""`GET /graphql` for a browser: GraphiQL from files in the package, off unless enabled.

Only with `channels.api.graphiql: true`. The page is static and holds no credential: the user
types a key or token in GraphiQL's Headers tab and every query goes to `POST /graphql`, checked
as any other call, so the page opens nothing by itself. Its scripts (`graphiql_static/`, see
its README) come from this origin under a Content-Security-Policy that allows no other, and no
inline script: a CDN script would run on the origin where the chat page keeps its key.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

GRAPHIQL_VERSION = "3.9.0"
REACT_VERSION = "18.3.1"
ASSETS = Path(__file__).parent / "graphiql_static"
ASSETS_PATH = "/graphql/assets"
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL — ai-bot</title>
<link rel="stylesheet" href="{ASSETS_PATH}/graphiql.min.css">
<link rel="stylesheet" href="{ASSETS_PATH}/page.css"></head>
<body><div id="graphiql"></div>
<script src="{ASSETS_PATH}/react.production.min.js"></script>
<script src="{ASSETS_PATH}/react-dom.production.min.js"></script>
<script src="{ASSETS_PATH}/graphiql.min.js"></script>
<script src="{ASSETS_PATH}/init.js"></script></body></html>
"""
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def _page(request: Request) -> Response:
    """The page for a browser (Accept: text/html); any other GET is refused as before."""
    if "text/html" not in request.headers.get("accept", ""):
        return Response(status_code=405, headers={"Allow": "POST"})
    return HTMLResponse(PAGE, headers=HEADERS)


def mount_graphiql(app: FastAPI) -> None:
    app.router.routes.append(Route("/graphql", _page, methods=["GET"], include_in_schema=False))
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="graphiql-assets")
