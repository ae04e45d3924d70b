"""The `auth:` section: short-lived JWT access tokens the gateway issues in exchange for an API
key, and the company identity providers whose tokens it also accepts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from aibot.config.base import Section, parse_duration, section
from aibot.i18n import N_

Scope = Literal["all", "openai", "rest"]
Algorithm = Literal["RS256", "ES256", "EdDSA", "PS256"]


def _asymmetric() -> list[Algorithm]:
    return ["RS256", "ES256", "EdDSA"]


class IssuerConfig(Section):
    """An identity provider of the company (Keycloak, Authing, Azure AD…) whose tokens are
    accepted as its logged-in user."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description=N_("Short name; callers appear as idp:<name>:<user>."),
    )
    issuer: str = Field(description=N_("The `iss` its tokens carry (exact match)."))
    jwks_url: str = Field(
        pattern=r"^https?://",
        description=N_(
            "Where its public keys are published (JWKS); fetched by the gateway, never "
            "taken from a token."
        ),
    )
    audience: str = Field(description=N_("The `aud` its tokens must carry for this gateway."))
    user_claim: str = Field("sub", description=N_("The claim that names the user."))
    scope: Scope = Field("rest", description=N_("What its tokens open: all, openai (/v1) or rest."))
    algorithms: list[Algorithm] = Field(
        default_factory=_asymmetric,
        description=N_("Signature algorithms accepted from it (never none or HMAC)."),
    )


class JwtConfig(Section):
    enabled: bool = Field(
        True, description=N_("Issue access tokens at POST /api/v1/token and accept them.")
    )
    algorithm: Literal["EdDSA", "ES256"] = Field(
        "EdDSA", description=N_("How the gateway signs its tokens (public keys at /.well-known).")
    )
    ttl: float = Field(
        900.0, gt=0, le=86400, description=N_("How long an access token lasts (e.g. 15m).")
    )
    audience: str = Field("ai-bot", description=N_("The `aud` of issued tokens, required on use."))
    issuer: str = Field("ai-bot", description=N_("The `iss` of issued tokens."))
    rotate_after: float = Field(
        7 * 86400.0,
        ge=3600,
        description=N_(
            "A new signing key after this (e.g. 7d); old keys verify until their "
            "last token expires."
        ),
    )
    leeway: float = Field(
        10.0, ge=0, le=300, description=N_("Clock difference tolerated on exp, nbf and iat.")
    )
    issuers: list[IssuerConfig] = Field(
        default=[],
        description=N_("External identity providers whose tokens are accepted."),
    )

    @field_validator("ttl", "rotate_after", "leeway", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class AuthConfig(Section):
    jwt: JwtConfig = section(description=N_("JWT access tokens."))
