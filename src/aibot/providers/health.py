"""What each provider's last calls said about it, kept so readiness can tell the truth.

The circuit breaker only counts failures; this remembers *why* the last call failed (the key
was rejected, the vendor could not be reached…) until a call succeeds, so `/readyz`, the page
banner, the console and `doctor` can say "DeepSeek rejected the API key (401)" long after the
circuit opened and the router stopped calling.

A provider is down while its circuit is open, or while its last call failed in a way that the
next call will not fix by itself (a rejected key, an account without credit, no connection,
no answer in time). Nothing but a call can lift such a state, and a gateway that reports not
ready may get no traffic to make one, so `recheck` asks the vendor's `GET /models` — no tokens —
at most once per cooldown while a provider is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aibot.i18n import N_, translate
from aibot.providers.base import ProviderError
from aibot.providers.breaker import CircuitBreaker
from aibot.providers.openai_compat import OpenAICompatibleProvider

# Failures that stay true until something changes (the key, the account, the network).
STICKY = frozenset({"auth", "account", "network", "timeout"})
# Of those, the ones a probe can see lifted; a refused key or account is lifted by a call that
# succeeds, or by a restart with a new key (some vendors list models without any key at all).
_RECHECKED = frozenset({"network", "timeout"})

_CAUSES = {
    "auth": N_("{vendor} rejected the API key ({status})"),
    "account": N_("{vendor} refused the call: the account has no credit or no access ({status})"),
    "network": N_("{vendor} cannot be reached at {url}"),
    "timeout": N_("{vendor} did not answer in time ({url})"),
    "rate_limited": N_("{vendor} is limiting the gateway's calls (429)"),
    "server_error": N_("{vendor} is failing (HTTP {status})"),
    "bad_response": N_("{vendor} sent an answer that could not be read"),
}
_OPEN = N_("calls to {vendor} are paused; the next try is in {seconds} s")


@dataclass(frozen=True, slots=True)
class Failure:
    """The last failed call of one provider, as a cause a person can act on."""

    kind: str  # ProviderError.kind
    status: int | None
    at: float  # wall clock

    @property
    def sticky(self) -> bool:
        return self.kind in STICKY


def describe(language: str, vendor: str, url: str, failure: Failure) -> str:
    template = _CAUSES.get(failure.kind, _CAUSES["server_error"])
    return translate(language, template, vendor=vendor, url=url, status=failure.status or "-")


def describe_open(language: str, vendor: str, seconds: float) -> str:
    return translate(language, _OPEN, vendor=vendor, seconds=round(seconds))


class ProviderHealth:
    """The last failure of each provider (None after a success), and the recheck timer."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._failures: dict[str, Failure] = {}
        self._rechecked: dict[str, float] = {}
        self._rechecks: set[asyncio.Task[None]] = set()

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)

    def failed(self, name: str, error: ProviderError) -> None:
        self._failures[name] = Failure(error.kind, error.status, self._clock())

    def last_failure(self, name: str) -> Failure | None:
        return self._failures.get(name)

    def due_for_recheck(self, name: str, every: float) -> bool:
        """True at most once per `every` seconds for a provider with a sticky failure."""
        failure = self._failures.get(name)
        if failure is None or failure.kind not in _RECHECKED or self._rechecks:
            return False
        now = self._clock()
        if now < self._rechecked.get(name, 0.0) + every:
            return False
        self._rechecked[name] = now
        return True

    def keep(self, task: asyncio.Task[None]) -> None:
        """Holds a recheck task until it ends (the loop keeps tasks only weakly)."""
        self._rechecks.add(task)
        task.add_done_callback(self._rechecks.discard)


@dataclass(frozen=True, slots=True)
class Outage:
    """Whether the chain of the default provider can answer, and why not (or why degraded)."""

    answering: bool
    causes: list[str]


def chain_outage(
    health: ProviderHealth,
    chain: Sequence[OpenAICompatibleProvider],
    breakers: Mapping[str, CircuitBreaker],
    language: str,
) -> Outage:
    """The default and its fallbacks: answering while one of them is neither open nor stuck on
    a failure that only a change can fix; the causes name every one that is not well."""
    answering, causes = False, []
    for provider in chain:
        failure, breaker = health.last_failure(provider.name), breakers[provider.name]
        is_open = breaker.state == "open"
        if failure is not None:
            causes.append(describe(language, provider.vendor, provider.base_url, failure))
        if is_open:
            causes.append(describe_open(language, provider.vendor, breaker.retry_in()))
        answering = answering or not (is_open or (failure is not None and failure.sticky))
    return Outage(answering, causes)


async def recheck(health: ProviderHealth, provider: OpenAICompatibleProvider) -> None:
    """One `probe` of a provider that is down: a good answer lifts the failure, a bad one
    keeps it (refreshed)."""
    try:
        await provider.probe()
    except ProviderError as error:
        health.failed(provider.name, error)
        return
    health.succeeded(provider.name)
