"""The sections about where data lives and how it is kept: `storage:`, `redis:` (and with it
scale-out mode), `outbox:` and `retention:`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from aibot.config.base import Section, parse_duration
from aibot.config.encryption import EncryptionConfig
from aibot.i18n import N_

SHAREABLE_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb")


class StorageConfig(Section):
    url: str = Field(
        "sqlite:///data/ai-bot.db",
        description=N_(
            "sqlite:///path, postgresql://user:pass@host/db or "
            "mysql://user:pass@host:3306/db (MySQL 5.7+/MariaDB 10.3+)"
        ),
    )

    encryption: EncryptionConfig | None = Field(
        None, description=N_("Encrypt conversations at rest (off by default; see README).")
    )

    @property
    def shareable(self) -> bool:
        """A database server several replicas can share (PostgreSQL, MySQL/MariaDB)."""
        return self.url.split(":", 1)[0].split("+", 1)[0].lower() in SHAREABLE_SCHEMES


class RedisConfig(Section):
    url: str | None = Field(
        None,
        description=N_(
            "redis:// URL: limits and the answer cache shared by replicas; with a "
            "postgresql:// or mysql:// store it turns on scale-out mode (several replicas behind "
            "a load balancer)."
        ),
    )
    lease_ttl: float = Field(
        15.0,
        ge=1,
        description=N_(
            "Scale-out mode: how long a silent replica keeps its "
            "conversations, unsent replies and receivers before another takes them over; renewed "
            "every third of it."
        ),
    )

    @field_validator("lease_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class OutboxConfig(Section):
    max_attempts: int = Field(10, ge=1, description=N_("Send attempts before dead-lettering."))
    max_age: float = Field(
        600.0, description=N_("Replies older than this are expired, not sent late.")
    )
    backoff_base: float = Field(
        1.0, gt=0, description=N_("First retry delay in seconds (doubles).")
    )
    backoff_max: float = Field(300.0, gt=0, description=N_("Longest retry delay in seconds."))

    @field_validator("max_age", "backoff_base", "backoff_max", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class RetentionConfig(Section):
    """How long `ai-bot maintenance` keeps rows; pending inbox/outbox rows are never deleted."""

    turns_days: float | None = Field(
        None,
        ge=1,
        description=N_("Delete conversation turns older than this many days; null: keep."),
    )
    inbox_days: float = Field(
        7,
        ge=1,
        description=N_(
            "Keep handled inbox rows this many days (≥ 1: platform re-deliveries "
            "are dropped by matching them)."
        ),
    )
    outbox_days: float = Field(7, ge=1, description=N_("Keep sent/dead/expired replies this long."))
    media_days: float | None = Field(
        30,
        ge=1,
        description=N_(
            "Delete pictures, voice and files users sent (and their rows) after this "
            "many days; null: keep."
        ),
    )
