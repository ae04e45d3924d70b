"""The published API documents, `docs/api/openapi.json` and `docs/api/schema.graphql`, made
from the code itself (a test fails when they drift): `python -m aibot.gateway.api_documents
docs/api` writes them again.

The OpenAPI document is the one a gateway serves at /openapi.json with the webhook channel on
(so `POST /api/v1/messages` is in it); nothing is started and no database is opened.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from strawberry.printer import print_schema

from aibot.admin.graphql_schema import build_schema
from aibot.config import Config, LoadedConfig

PUBLISHED = {
    "channels": {"webhook": {"callback_url": "https://integrator.example.com/replies"}},
    "storage": {"url": "sqlite:///:memory:"},
}


def openapi_document() -> dict[str, Any]:
    from aibot.gateway.asgi import create_app

    app = create_app(LoadedConfig(config=Config.model_validate(PUBLISHED), path=None))
    return app.full.openapi()


def graphql_sdl() -> str:
    return print_schema(build_schema()) + "\n"


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "openapi.json").write_text(openapi_text(), encoding="utf-8")
    (directory / "schema.graphql").write_text(graphql_sdl(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/api"))
