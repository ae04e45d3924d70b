"""The `policy:` and `routes:` sections: sensitive words, rate limits, access, cache, routes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from aibot.config.base import Section, invalid, parse_duration, section
from aibot.config.tools import check_zone
from aibot.i18n import N_

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\s*(?:ms|s|m|h|d)|second|minute|hour|day)\s*$")
_RATE_WORDS = {"second": "1s", "minute": "1m", "hour": "1h", "day": "1d"}


def parse_rate(value: Any) -> tuple[int, float] | None:
    """`5/minute`, `30/10m` → (count, window seconds); null or "" switch the limit off."""
    if value in (None, ""):
        return None
    if isinstance(value, tuple):
        return value  # already parsed (a model copied with its values)
    match = _RATE_RE.match(str(value))
    if not match:
        raise invalid(
            N_("not a rate: {value} (use e.g. 5/minute, 100/hour, 20/30s)"), value=repr(value)
        )
    window = _RATE_WORDS.get(match.group(2).strip(), match.group(2).strip())
    count, seconds = (
        int(match.group(1)),
        parse_duration(window if window[0].isdigit() else "1" + window),
    )
    if count < 1 or seconds <= 0:
        raise invalid(N_("a rate needs a positive count and window: {value}"), value=repr(value))
    return count, seconds


class SensitiveWordsConfig(Section):
    words: list[str] = Field(default=[], description=N_("Forbidden words and phrases."))
    files: list[Path] = Field(
        default=[], description=N_("Word lists, one per line; reloaded on change.")
    )
    action: Literal["block", "mask"] = Field(
        "block", description=N_("block: refuse the message; mask: replace the words with ***.")
    )
    check_output: bool = Field(
        True, description=N_("Also mask the words in answers (streamed too).")
    )
    refusal: str = Field(
        N_("Sorry, I can't help with that message."),
        description=N_("What a blocked user is told."),
    )


class RateLimitConfig(Section):
    per_user: tuple[int, float] | None = Field(
        None, description=N_("Messages per user, e.g. 5/minute; null: unlimited.")
    )
    per_chat: tuple[int, float] | None = Field(
        None, description=N_("Messages per chat (a group counts once), e.g. 30/minute.")
    )
    burst: int | None = Field(
        None, ge=1, description=N_("Messages allowed at once; default: the count of the rate.")
    )
    daily_tokens_per_user: int | None = Field(
        None, ge=1, description=N_("Model tokens a user may spend per day (UTC); null: unlimited.")
    )
    message: str = Field(
        N_("You're sending messages too fast. Please try again in {retry} s."),
        description=N_("Told to a limited user; {retry} is the wait in seconds."),
    )
    quota_message: str = Field(
        N_("You've used today's quota. It resets at 00:00 UTC."),
        description=N_("Told to a user over the daily token quota."),
    )

    @field_validator("per_user", "per_chat", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> tuple[int, float] | None:
        return parse_rate(value)

    @property
    def enabled(self) -> bool:
        return bool(self.per_user or self.per_chat or self.daily_tokens_per_user)


class AccessConfig(Section):
    """Who may talk to the assistant. Ids are `user_id` or `channel:user_id`."""

    allow_users: list[str] = Field(
        default=[], description=N_("If set, only these users are answered in DMs.")
    )
    deny_users: list[str] = Field(default=[], description=N_("Never answered."))
    allow_chats: list[str] = Field(
        default=[], description=N_("If set, only these group chats are answered.")
    )
    deny_chats: list[str] = Field(default=[], description=N_("Group chats never answered."))
    dm_policy: Literal["open", "allowlist", "pairing"] = Field(
        "open",
        description=N_(
            "open: anyone; allowlist: allow_users only; pairing: "
            "unknown users get a code an admin approves with `ai-bot pairing approve CODE`."
        ),
    )
    pairing_ttl: float = Field(3600.0, description=N_("How long a pairing code stays valid."))
    max_pending_pairings: int = Field(
        20, ge=1, description=N_("Unapproved codes at once; more requests are told to wait.")
    )
    admins: list[str] = Field(
        default=[],
        description=N_("Users who may use admin commands (/model, /stats); empty: everyone may."),
    )
    denied_message: str = Field(
        N_("Sorry, you are not allowed to use this assistant."),
        description=N_("Told to a user the lists refuse (groups are refused silently)."),
    )

    @field_validator("pairing_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class CacheConfig(Section):
    enabled: bool = Field(False, description=N_("Reuse answers to identical first questions."))
    ttl: float = Field(3600.0, description=N_("How long an answer is reused (e.g. 1h)."))
    max_entries: int = Field(10000, ge=1, description=N_("Answers kept in memory (without Redis)."))

    @field_validator("ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class PolicyConfig(Section):
    sensitive_words: SensitiveWordsConfig = section(description=N_("Words refused or masked."))
    rate_limit: RateLimitConfig = section(description=N_("Message rates and daily token quotas."))
    access: AccessConfig = section(description=N_("Who is answered."))
    cache: CacheConfig = section(description=N_("Answer cache."))


class RouteMatch(Section):
    channel: str | None = Field(None, description=N_("telegram, feishu, web, api…"))
    chat_type: Literal["private", "group"] | None = Field(None, description=N_("DM or group."))
    chat_id: str | None = Field(None, description=N_("One chat (the platform's id)."))
    user_id: str | None = Field(None, description=N_("One user (the platform's id)."))
    prefix: str | None = Field(None, description=N_("Text starts with this."))
    regex: str | None = Field(None, description=N_("Text matches this (Python regex, searched)."))

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise invalid(
                    N_("invalid regex {value}: {reason}"), value=repr(value), reason=str(exc)
                ) from None
        return value


class RouteConfig(Section):
    name: str = Field(description=N_("Shown in logs and metrics."))
    match: RouteMatch = section(description=N_("All given fields must hold."))
    provider: str | None = Field(None, description=N_("Provider answering; default: the default."))
    system_prompt: str | None = Field(None, description=N_("Persona for this route."))
    temperature: float | None = Field(None, ge=0, le=2, description=N_("Sampling temperature."))
    max_turns: int | None = Field(None, ge=0, description=N_("Exchanges kept as context."))
    reply: str | None = Field(None, description=N_("Fixed answer (FAQ); the model is not called."))
    filters: bool = Field(True, description=N_("Apply sensitive-word checks on this route."))
    tools: list[str] = Field(
        default=[],
        description=N_(
            "Tools this route's chats may use: names, or `server__*` for all of an MCP "
            "server's; default: none."
        ),
    )
    time_zone: str | None = Field(
        None, description=N_("The chats' time zone (IANA, e.g. Asia/Shanghai); default: tools'.")
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)
