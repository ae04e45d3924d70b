"""What the console sees of the running gateway, and everything it may do to it.

The console is handed an object of this shape (the gateway implements it) instead of the
gateway itself, so the console cannot come to depend on how the gateway is wired, and the
gateway's package is not imported from here at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aibot.admin.access_tokens import IssuedToken
from aibot.config import CanaryConfig
from aibot.config.watch import ConfigReloader
from aibot.ops.metrics import Metrics
from aibot.store.archive.bucket import Bucket
from aibot.store.crypto import Cipher
from aibot.store.database import Database


@dataclass(frozen=True)
class ProviderState:
    name: str
    model: str
    circuit: str  # closed, open or half_open
    default: bool


@dataclass(frozen=True)
class ModelsState:
    providers: list[ProviderState]
    fallbacks: list[str]
    problems: list[str]
    canary: CanaryConfig | None


@dataclass(frozen=True)
class ScheduleView:
    name: str
    cron: str
    time_zone: str
    channel: str  # the target's channel code and chat
    chat_id: str
    does: str  # the message, or the prompt when `asks`
    asks: bool
    paused: bool
    next_due: float | None


@dataclass(frozen=True)
class ScheduleRun:
    job: str
    due_at: float
    status: str  # pending, running, sent, missed, failed
    attempts: int


class GatewayView(Protocol):
    @property
    def engine(self) -> Database:
        """The store; the console's own tables (users, sessions, audit, keys) live in it too."""

    @property
    def cipher(self) -> Cipher:
        """How stored message text is opened (encryption at rest), for transcripts."""

    @property
    def archive(self) -> Bucket | None:
        """The archive bucket, when configured: transcripts read archived turns from it."""

    @property
    def metrics(self) -> Metrics: ...

    @property
    def reloader(self) -> ConfigReloader:
        """The running config, and how a changed config.yaml is made live (or refused)."""

    def media_path(self, blob: str) -> Path | None:
        """Where an attachment's bytes are kept (None: gone, e.g. past retention)."""

    def mask_secrets(self, text: str) -> str:
        """`text` with every configured secret masked, before the console shows it."""

    async def readiness(self, language: str = "en") -> dict[str, Any]:
        """The same report as /readyz, its sentences in `language`."""

    def queued_channels(self) -> list[str]:
        """Channels whose messages go through the inbox: the ones that can be paused."""

    async def pause_channel(self, name: str) -> None: ...

    async def resume_channel(self, name: str) -> int:
        """Returns how many pending messages were scheduled."""

    def models(self, language: str = "en") -> ModelsState:
        """The providers, fallbacks and canary; the problems in `language`."""

    def set_default_model(self, name: str) -> str | None:
        """Switches the default provider until the next restart; returns the previous one."""

    def active_word_count(self) -> int:
        """Sensitive words and phrases the live policies enforce."""

    async def refresh_api_keys(self) -> None:
        """Re-reads the stored API keys now, so a new or revoked key counts at once."""

    async def issue_access_token(self, subject: str, scope: str) -> IssuedToken | None:
        """A short-lived access token for `subject`, signed as key tokens are; None when
        `auth.jwt` is off. Raises TooManyTokens past the per-subject rate."""

    async def schedules(self) -> tuple[list[ScheduleView], list[ScheduleRun]]:
        """The configured schedules with their state, and their latest runs."""

    async def set_schedule_paused(self, name: str, paused: bool) -> bool:
        """False when no configured schedule has that name."""

    async def run_schedule_now(self, name: str) -> bool:
        """Adds a run due now; False when no configured schedule has that name."""

    def wake_outbox(self) -> None:
        """A dead letter was put back in line: deliver it without waiting for the next pass."""
