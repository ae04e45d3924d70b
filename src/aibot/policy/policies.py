"""The policies of one config, built together and swapped whole on reload.

A message reads `PolicyHolder.current` once per stage; a reload replaces the object, so no
message ever sees a half-applied config. What outlives reloads (the limiter's buckets, the
answer cache, pairing codes) lives in `PolicyServices`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aibot.config import (
    CacheConfig,
    CanaryConfig,
    Config,
    ConfigError,
    RateLimitConfig,
    SensitiveWordsConfig,
)
from aibot.i18n import N_
from aibot.ops.metrics import Metrics
from aibot.policy.access import AccessPolicy
from aibot.policy.cache import AnswerCache
from aibot.policy.limits import Limiter
from aibot.policy.routes import RouteTable
from aibot.policy.words import WordMatcher, read_word_files


class Policies:
    def __init__(self, config: Config) -> None:
        policy = config.policy
        self.words_config: SensitiveWordsConfig = policy.sensitive_words
        try:
            listed = read_word_files(self.words_config.files)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError.of(
                N_("policy.sensitive_words.files: cannot read: {reason}"), reason=str(exc)
            ) from None
        self.words = WordMatcher([*self.words_config.words, *listed])
        self.limits: RateLimitConfig = policy.rate_limit
        self.access = AccessPolicy(policy.access)
        self.cache: CacheConfig = policy.cache
        self.routes = RouteTable(config.routes)
        self.canary: CanaryConfig | None = config.models.canary

    @property
    def watched_files(self) -> list[Path]:
        return list(self.words_config.files)


class Pairings(Protocol):
    """Pairing codes in the shared store (see `store/pairings.py`)."""

    async def is_approved(self, channel: str, user_id: str) -> bool: ...

    async def request(
        self, channel: str, user_id: str, now: float, ttl: float, max_pending: int
    ) -> str | None: ...


@dataclass
class PolicyServices:
    limiter: Limiter
    answers: AnswerCache
    pairings: Pairings
    metrics: Metrics
    clock: Callable[[], float]
    # The live default model, asked per message: the router owns it (the console, a reload or
    # a canary promotion change it there), so no copy here can go stale.
    default_model: Callable[[], str | None]
    # Whether an API key (by name) makes its callers chat admins; its callers' own ids never do.
    admin_key: Callable[[str | None], bool] = lambda _principal: False
    approved: dict[tuple[str, str], float] = field(default_factory=dict)


class PolicyHolder:
    def __init__(self, policies: Policies) -> None:
        self.current = policies
