"""`POST /api/v1/token` (an API key for a short-lived access token), `POST
/api/v1/token/revoke` and `GET /.well-known/jwks.json`.

The answer has the shape of an OAuth 2.0 token response (RFC 6749 §5.1), so OAuth client
libraries read it as they are. Only an API key is exchanged, never a token: a token cannot
renew itself past its key's revocation.
"""

from __future__ import annotations

from typing import Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from aibot.admin.access_tokens import TOKENS_PER_MINUTE, TokenIssuer, TooManyTokens
from aibot.channels.api_keys import ApiKeys, bearer_token
from aibot.channels.http_bodies import API_ERRORS, ErrorBody, JsonBody, refusal
from aibot.core.errors import AccessDenied

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenRequest(JsonBody):
    scope: Literal["all", "openai", "rest"] | None = Field(
        None, description="Narrow the token to /v1 (openai) or /api/v1 and /graphql (rest)."
    )


class TokenAnswer(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    scope: str


class RevokeRequest(JsonBody):
    token: str = Field(min_length=1, max_length=16_384, description="The access token to revoke.")


class RevokeAnswer(BaseModel):
    revoked: bool


def build_token_router(keys: ApiKeys, issuer: TokenIssuer) -> APIRouter:
    router = APIRouter(tags=["tokens"])

    @router.post(
        "/api/v1/token",
        response_model=TokenAnswer,
        responses={
            **API_ERRORS,
            403: {"model": ErrorBody, "description": "Scope not allowed"},
            429: {"model": ErrorBody, "description": "Too many tokens for this key"},
        },
    )
    async def token(request: Request, body: TokenRequest | None = None) -> Response:
        """Exchange an API key (Authorization: Bearer <key>) for a short-lived access token."""
        match = keys.key_scope(bearer_token(request))
        if match is None:
            raise AccessDenied("invalid API key")
        name, key_scope = match
        scope = (body.scope if body else None) or key_scope
        if key_scope != "all" and scope != key_scope:
            return refusal(request, 403, "scope_not_allowed", scope=key_scope)
        try:
            issued = await issuer.issue(name, scope)
        except TooManyTokens:
            return refusal(
                request, 429, "rate_limit_exceeded", {"Retry-After": "60"}, n=TOKENS_PER_MINUTE
            )
        answer = TokenAnswer(
            access_token=issued.token,
            expires_in=issued.expires_in,
            scope=issued.scope,
        )
        return Response(
            orjson.dumps(answer.model_dump()), media_type="application/json", headers=NO_STORE
        )

    @router.post("/api/v1/token/revoke", response_model=RevokeAnswer, responses=API_ERRORS)
    async def revoke(body: RevokeRequest, request: Request) -> RevokeAnswer:
        """Revoke an access token on every replica (until it would have expired anyway)."""
        keys.require(request)
        claims = keys.tokens.claims(body.token) if keys.tokens else None
        if claims is None:
            return RevokeAnswer(revoked=False)
        await issuer.revoke(claims.jti, claims.expires_at)
        return RevokeAnswer(revoked=True)

    @router.get("/.well-known/jwks.json", tags=["tokens"])
    async def jwks() -> JSONResponse:
        """The public keys that verify this gateway's access tokens."""
        return JSONResponse(issuer.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return router
