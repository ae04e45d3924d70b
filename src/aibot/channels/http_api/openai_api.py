"""The OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`, `/v1/embeddings`): any
OpenAI client works against the gateway, as if it spoke to the vendor.

Stateless by default, a faithful proxy: the caller's body goes to the provider with only what
its vendor needs changed (`providers/passthrough.py`), and the provider's answer comes back as
it came, streamed events included. The policies still run (sensitive words on the text, limits
and quotas on the key and the end user, routes, audit and metrics, fallbacks), but a stateless
call is never a chat command. `X-Session-Id` (or `metadata.session_id`) turns memory on: the
gateway then keeps the conversation and supplies its history; a request that carries its own
history (any assistant or tool message) is sent as it is, and only the new exchange is kept.
`user` is the end user, never a conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.http_api.openai_chat import ModelNames, not_found
from aibot.channels.http_api.openai_errors import documented, failure_response, openai_error
from aibot.channels.http_api.openai_request import SCHEMA, BadRequest, read_body
from aibot.channels.http_bodies import SSE_ANSWER, Endpoint
from aibot.core.errors import ModelUnavailable


class Embedder(Protocol):
    async def embeddings(self, body: dict[str, Any], provider_name: str | None) -> bytes: ...


def build_openai_router(
    completions: Endpoint,
    keys: ApiKeys,
    names: ModelNames,
    embedder: Embedder,
    *,
    owners: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> APIRouter:
    """The /v1 routes: `completions` (made by `openai_chat.completions_endpoint`, which the
    per-message path also calls), the model list and embeddings."""
    router = APIRouter(prefix="/v1", tags=["openai-compatible"])
    created = int(clock.now())

    def model_object(name: str) -> dict[str, Any]:
        return {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": (owners or {}).get(name, "ai-bot"),
        }

    @router.get("/models", responses=documented(401))
    async def models(request: Request) -> dict[str, Any]:
        """The configured providers this key may use, by the names `model` accepts."""
        who = keys.require(request)
        return {"object": "list", "data": [model_object(n) for n in names.visible(who)]}

    @router.get("/models/{model_id:path}", responses=documented(400, 401, 404))
    async def model(
        request: Request, model_id: Annotated[str, PathParam(max_length=256)]
    ) -> Response:
        """One model, or 404 `model_not_found`."""
        who = keys.require(request)
        if model_id not in names.visible(who):
            return not_found(model_id)
        return JSONResponse(model_object(model_id))

    @router.post(
        "/embeddings",
        openapi_extra={"requestBody": _body_doc({"type": "object"})},
        responses=documented(400, 401, 404, 413, 429, 502),
    )
    async def embeddings(request: Request) -> Response:
        """Embeddings from the provider `model` names (its preset's embedding model)."""
        who = keys.require(request)
        try:
            body = read_body(await request.body())
        except BadRequest as exc:
            return openai_error(400, str(exc), None, param=exc.param)
        provider = names.resolve(str(body.get("model") or ""), who)
        if provider is None:
            return not_found(body.get("model"))
        try:
            raw = await embedder.embeddings(body, provider)
        except ModelUnavailable as exc:
            return failure_response(exc)
        return Response(raw, media_type="application/json")

    router.post(
        "/chat/completions",
        openapi_extra={"requestBody": _body_doc(SCHEMA)},
        responses={200: SSE_ANSWER, **documented(400, 401, 404, 413, 429, 502, 503)},
    )(completions)
    return router


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}
