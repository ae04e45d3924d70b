"""The `models:` section: named providers (a preset plus overrides), the default, the fallbacks,
the circuit breaker and the canary split."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from aibot.config.base import NO_PROVIDERS, Section, invalid, parse_duration
from aibot.config.media import SpeechConfig
from aibot.i18n import N_


class ProviderConfig(Section):
    preset: str | None = Field(
        None, description=N_("Vendor preset: openai, minimax, zhipu, deepseek…")
    )
    base_url: str | None = Field(
        None, description=N_("OpenAI-compatible base URL; overrides preset.")
    )
    api_key: SecretStr | None = Field(None, description=N_("The provider's API key."))
    model: str | None = Field(None, description=N_("Model name sent to the provider."))
    timeout: float = Field(120.0, gt=0, description=N_("Seconds allowed for one model call."))
    connect_timeout: float = Field(10.0, gt=0, description=N_("Seconds allowed to connect."))
    max_retries: int = Field(2, ge=0, le=10, description=N_("Retries on 429/5xx/timeouts."))
    max_tokens: int | None = Field(None, ge=1, description=N_("Cap on answer tokens."))
    temperature: float | None = Field(None, ge=0, le=2, description=N_("Sampling temperature."))
    extra_body: dict[str, Any] = Field(default={}, description=N_("Extra request fields."))
    extra_headers: dict[str, str] = Field(default={}, description=N_("Extra HTTP headers."))
    reasoning_echo: Literal["none", "field", "think_tags"] | None = Field(
        None,
        description=N_("How stored reasoning is sent back in history (preset decides if unset)."),
    )
    tools: bool | None = Field(
        None, description=N_("Whether the gateway offers it tools (the preset decides if unset).")
    )
    max_connections: int = Field(100, ge=1, description=N_("Pooled connections to this provider."))
    embedding_model: str | None = Field(
        None,
        description=N_("Model for /v1/embeddings; overrides the preset's (none: no embeddings)."),
    )
    vision: bool | None = Field(
        None, description=N_("The model reads pictures (unset: known vision models are detected).")
    )


class CanaryConfig(Section):
    provider: str = Field(description=N_("The provider under trial."))
    weight: float = Field(ge=0, le=100, description=N_("Percent of conversations sent to it."))


class ModelsConfig(Section):
    default: str | None = Field(
        None, description=N_("Provider name used unless a session picks one.")
    )
    fallbacks: list[str] = Field(default=[], description=N_("Tried in order on failure."))
    breaker_failures: int = Field(
        5, ge=1, description=N_("Consecutive failed calls that open a provider's circuit.")
    )
    breaker_cooldown: float = Field(
        30.0, description=N_("How long an open circuit skips its provider (e.g. 30s).")
    )
    providers: dict[str, ProviderConfig] = Field(
        default={}, description=N_("Named providers; the names are what /model accepts.")
    )
    canary: CanaryConfig | None = Field(
        None, description=N_("Send a share of conversations (sticky) to a provider under trial.")
    )
    vision: str | None = Field(
        None, description=N_("Provider that answers pictures when the chat's own model cannot see.")
    )
    stt: SpeechConfig | None = Field(
        None, description=N_("Speech to text for voice messages (/v1/audio/transcriptions).")
    )
    aliases: dict[str, str] = Field(
        default={},
        description=N_("Other names /v1 accepts for a provider, e.g. gpt-4o-mini: deepseek."),
    )

    @field_validator("breaker_cooldown", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _names_exist(self) -> ModelsConfig:
        """A misspelt default would otherwise silently route every message elsewhere."""
        known = ", ".join(self.providers) or NO_PROVIDERS
        named = [("default", self.default), *(("fallbacks", f) for f in self.fallbacks)]
        if self.canary is not None:
            named.append(("canary.provider", self.canary.provider))
        named.append(("vision", self.vision))
        if self.stt is not None:
            named.append(("stt.provider", self.stt.provider))
        for field, name in named:
            if name is not None and name not in self.providers:
                raise invalid(
                    N_(
                        "models.{field}: '{name}' is not a provider under models.providers "
                        "(configured: {known})"
                    ),
                    field=field,
                    name=name,
                    known=known,
                )
        return self
