"""The sections about a conversation: what is remembered (`session:`) and what the assistant says
when platforms report changes (`events:`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from aibot.config.base import Section, parse_duration
from aibot.i18n import N_


class SessionConfig(Section):
    max_turns: int = Field(20, ge=0, le=1000, description=N_("Exchanges kept as context."))
    max_context_tokens: int = Field(
        16000, ge=256, description=N_("Token budget for history; oldest turns are dropped first.")
    )
    idle_reset: float | None = Field(
        1800.0,
        description=N_("Start a fresh context after this much silence (e.g. 30m); null: never."),
    )
    system_prompt: str | None = Field(
        None, description=N_("System prompt sent before the history.")
    )
    cache_sessions: int = Field(2000, ge=0, description=N_("Recent conversations kept in memory."))

    @field_validator("idle_reset", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value in (None, "", 0, "0", "never") else parse_duration(value)


class EventsConfig(Section):
    """What the assistant does when platforms report changes (Telegram, Feishu, WeCom)."""

    greeting: str | None = Field(
        N_("Hi! I'm the team's AI assistant: mention me with a question."),
        description=N_(
            "Sent when the bot is added to a group (or a WeCom user opens the app); "
            "null: say nothing."
        ),
    )
    welcome: str | None = Field(
        None, description=N_("Sent when members join a group; {names} is who joined. null: off.")
    )
    reset_on_removal: bool = Field(
        True, description=N_("Reset a group's conversations when the bot is removed from it.")
    )
    app_greeting: str | None = Field(
        None,
        description=N_("Sent once to a WeCom user who opens the app (enter_agent); null: off."),
    )
