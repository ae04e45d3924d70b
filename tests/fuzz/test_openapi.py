"""Schemathesis against the gateway's own OpenAPI document (`/openapi.json`), on one real
gateway: every documented operation, with data the schema allows and data it forbids, first
without credentials (refused: 401 for valid data, never a model call), then with an API key
(every answer's status, content type, headers and body as documented, never a 5xx).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.result import Ok

from tests.support.fuzz_rig import Rig, fuzz_settings, in_thread

pytestmark = pytest.mark.asyncio(loop_scope="module")

PUBLIC = {"GET /healthz", "GET /readyz", "GET /.well-known/jwks.json"}
EXAMPLES = 40  # per operation and mode, in each of the two tests: about 10 s in all


# An explicit configuration, so that no schemathesis.toml found on the way is used. Invalid
# data may also be refused as too large (413, the body limit in front of every route).
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "428",
                    "429",
                    "5xx",
                ]
            }
        }
    }
)


def operations(rig: Rig) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{rig.gw.url}/openapi.json", config=CONFIG)
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        found.append(result.ok())
    assert {op.label for op in found} == PUBLIC | {
        "POST /api/v1/chat",
        "POST /api/v1/messages",
        "POST /api/v1/token",
        "POST /api/v1/token/revoke",
        "GET /v1/models",
        "GET /v1/models/{model_id}",
        "POST /v1/chat/completions",
        "POST /v1/embeddings",
    }
    return found


def modes(operation: Any) -> list[GenerationMode]:
    """Invalid data needs something to be invalid: an operation without inputs has none."""
    inputs = bool(operation.body) or any(True for _ in operation.iter_parameters())
    return (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if inputs else [GenerationMode.POSITIVE]
    )


def run(
    rig: Rig,
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    excluded: list[CheckFunction],
) -> None:
    """Up to EXAMPLES cases of `operation`, sent and checked against the schema."""

    @fuzz_settings(max_examples=EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=mode))
    def prop(case: Any) -> None:
        sent = dict(headers)
        if case.media_type and case.media_type != "application/json":
            sent.pop("Content-Type", None)  # multipart: schemathesis writes it, with its boundary
        response = case.call(base_url=rig.gw.url, headers=sent, timeout=20)
        if not headers and operation.label not in PUBLIC:
            if mode is GenerationMode.POSITIVE:
                # FastAPI validates the body before the handler checks the key, so data the
                # schema allows but validation refuses (1.0 for an integer, a lone surrogate)
                # gets the validation error (422; 400 under /v1): refused all the same.
                assert response.status_code in (400, 401, 422), (case, response.text)
            else:
                assert 400 <= response.status_code < 500, (case, response.text)
        if mode is GenerationMode.NEGATIVE and str(case.media_type).startswith("multipart/"):
            # In a form every value is text: the boolean `false` schemathesis puts in a string
            # field arrives as the text "false", valid data. Only a crash is wrong here.
            assert response.status_code < 500, (case, response.text)
            return
        case.validate_response(response, excluded_checks=excluded, headers=sent)

    prop()


async def test_documented_operations_refuse_callers_without_a_key(rig: Rig) -> None:
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    def every_operation() -> None:
        for operation in operations(rig):
            for mode in modes(operation):
                run(rig, operation, mode, {}, [positive_data_acceptance])

    await in_thread(every_operation)
    assert rig.llm.requests == [] and rig.inbox() == []
    assert rig.tracebacks() == []


async def test_documented_operations_behave_as_documented(rig: Rig) -> None:
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    def every_operation() -> None:
        for operation in operations(rig):
            # A rule the schema cannot state: a request naming a conversation (`user`) must
            # carry a user message; without one it is refused with a documented 400.
            excluded: list[CheckFunction] = (
                [positive_data_acceptance] if operation.label == "POST /v1/chat/completions" else []
            )
            for mode in modes(operation):
                run(rig, operation, mode, rig.bearer(), excluded)

    await in_thread(every_operation)
    assert rig.tracebacks() == []
    assert await rig.healthy()
