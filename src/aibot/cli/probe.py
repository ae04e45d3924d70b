"""The live check of a provider: one `max_tokens=1` call, and what a failure means in words a
user can act on. `ai-bot init` runs it before writing anything; `ai-bot doctor` runs it too."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Literal

from aibot.cli.common import tr
from aibot.config import ProviderConfig
from aibot.providers.base import ChatRequest, Message, ProviderError
from aibot.providers.openai_compat import OpenAICompatibleProvider

PROBE_TIMEOUT = 15.0


@dataclass(frozen=True)
class ProbeFailure:
    """Why a live check failed, split so `doctor` can show the fix in its own column."""

    problem: str
    fix: str
    # What the user most likely has to change: the key, or where it is sent (URL or model).
    culprit: Literal["key", "url", "other"] = "other"

    def __str__(self) -> str:
        return tr("{problem}: {fix}", problem=self.problem, fix=self.fix)


@dataclass(frozen=True)
class Probed:
    latency: float  # seconds
    clock_skew: float | None  # this machine's clock minus the server's Date header, seconds


async def probe(name: str, config: ProviderConfig) -> Probed:
    """One `max_tokens=1` completion, the cheapest call that proves URL, key and model.

    Raises `ProviderError`. Retries are off and the timeout short so a dead endpoint is
    reported in seconds, not after the gateway's long model timeout.
    """
    quick = config.model_copy(update={"timeout": PROBE_TIMEOUT, "max_retries": 0})
    provider = OpenAICompatibleProvider(name, quick)
    started = time.perf_counter()
    try:
        await provider.chat(ChatRequest(messages=[Message("user", "ping")], max_tokens=1))
    finally:
        await provider.close()
    latency = time.perf_counter() - started
    return Probed(latency, _skew(provider.server_date, time.time()))


def _skew(server_date: str | None, now: float) -> float | None:
    """Date has whole seconds and is stamped before the body is sent: well inside the 30 s
    that matter for webhook signatures."""
    try:
        parsed = email.utils.parsedate_to_datetime(server_date) if server_date else None
    except (TypeError, ValueError):
        return None
    return None if parsed is None or parsed.tzinfo is None else now - parsed.timestamp()


def describe_failure(error: ProviderError, base_url: str, model: str) -> ProbeFailure:
    """Turn a failed check into the cause a user can act on, by HTTP status."""
    detail = str(error).removeprefix(f"{error.provider}: ")
    status = error.status
    if status in (401, 403):
        return ProbeFailure(
            tr("the provider refused the key (HTTP {status})", status=status),
            tr("check it, or make a new one in the vendor's console"),
            "key",
        )
    if status == 404:
        return ProbeFailure(
            tr("HTTP 404 for model {model} at {url}", model=repr(model), url=base_url),
            tr("the model name or the base URL is wrong (it usually ends in /v1)"),
            "url",
        )
    if status == 429:
        return ProbeFailure(
            tr("the provider is rate limiting this key ({detail})", detail=detail),
            tr("check the balance or quota in the vendor's console, or try again later"),
            "key",
        )
    if status is None:
        return ProbeFailure(
            tr("cannot reach {url} ({detail})", url=base_url, detail=detail),
            tr("check the URL, the network, a proxy or a firewall"),
            "url",
        )
    if status == 200:
        return ProbeFailure(
            tr("{url} did not answer in the OpenAI format", url=base_url),
            tr("check that the base URL is the OpenAI-compatible endpoint"),
            "url",
        )
    return ProbeFailure(
        tr("the provider answered {detail}", detail=detail), tr("see the provider's message")
    )
