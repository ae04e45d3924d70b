"""`/docs`: the API reference (Swagger UI) from files in the package, never from a CDN.

A script loaded from a CDN without integrity runs on the origin where the chat page keeps its
API key in localStorage, and the page stays blank offline or where the CDN is blocked (mainland
China). So the pinned Swagger UI (`docs_static/`, see its README) is served from here, under a
Content-Security-Policy that allows only this origin's scripts. `server.docs: false` turns the
page off; `/openapi.json` stays for clients and generators.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_VERSION = "5.35.0"
ASSETS = Path(__file__).parent / "docs_static"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} — API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script></body></html>
"""
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def mount_docs(app: FastAPI, title: str) -> None:
    router = APIRouter(include_in_schema=False)
    page = _PAGE.format(title=title)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=HEADERS)

    app.include_router(router)
    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")
