"""The published API documents match the code: `docs/api/openapi.json` is what /openapi.json
serves and `docs/api/schema.graphql` is /graphql's schema. After an API change, run
`make api-docs` (python -m aibot.gateway.api_documents docs/api) and commit the result."""

from __future__ import annotations

import json
from pathlib import Path

from graphql import build_schema as parse_sdl

from aibot.gateway.api_documents import graphql_sdl, openapi_document

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"
HINT = "the API changed: run `make api-docs` and commit docs/api"


def test_the_published_openapi_document_is_current() -> None:
    published = json.loads((DOCS / "openapi.json").read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(openapi_document())), HINT
    assert {"/api/v1/chat", "/api/v1/token", "/v1/chat/completions"} <= set(published["paths"])


def test_the_published_graphql_schema_is_current() -> None:
    published = (DOCS / "schema.graphql").read_text(encoding="utf-8")
    assert published == graphql_sdl(), HINT
    schema = parse_sdl(published)  # valid SDL for any GraphQL tool
    assert schema.query_type is not None and "conversations" in schema.query_type.fields
    assert schema.mutation_type is not None and "sendMessage" in schema.mutation_type.fields
    assert schema.subscription_type is not None
