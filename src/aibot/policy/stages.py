"""The policy stages of the pipeline; `aibot/gateway/message_path.py` puts them in order.

Each stage reads `holder.current` (the policies of the live config) once per message and either
lets the message through, adjusts it, or ends the turn with an answer of its own. A refusal is
answered but not remembered, so a blocked message never reaches the model's context later. The
stages with work after the model (quota, cache, output words) are middlewares: one object, its
before and after parts around the rest of the turn. Only their I/O (the limiter, the answer
cache, pairing codes) observes `aibot_stage_seconds`.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import structlog
from prometheus_client import Histogram

from aibot.config import RateLimitConfig
from aibot.core.pipeline import DeltaSink, Middleware, Next, TurnContext
from aibot.core.wire_text import caller_texts
from aibot.i18n import N_, translate
from aibot.policy.access import Verdict
from aibot.policy.answer_filter import StreamedAnswerFilter, mask_answer
from aibot.policy.cache import cache_key
from aibot.policy.limits import SharedStoreDown
from aibot.policy.policies import PolicyHolder, PolicyServices
from aibot.policy.routes import in_canary
from aibot.policy.words import StreamGuard

log = structlog.get_logger("aibot.policy")

APPROVAL_MEMORY = 60.0  # seconds an approval is trusted before the store is asked again
PAIRING_TEXT = N_(
    "This assistant needs an admin's approval first. Your pairing code is {code}; "
    "ask an admin to run: ai-bot pairing approve {code}"
)
PAIRING_BUSY = N_("Too many people are waiting for approval; please try again later.")


def _refuse(
    ctx: TurnContext,
    services: PolicyServices,
    reason: str,
    text: str | None,
    retry_after: float | None = None,
    **params: object,
) -> None:
    """Ends the turn with `text` (or silently with None), counted under `reason`; an API
    channel answers `reason` as an error instead of `text`. `text` is a configured sentence:
    the built-in one (a catalog msgid) is said in the chat's language, an admin's own as
    written, with `params` filled in either way."""
    services.metrics.rejected.labels(reason).inc()
    ctx.keep_turn = False
    ctx.reply = translate(ctx.language, text, **params) if text else None
    ctx.refusal = reason
    ctx.retry_after = retry_after
    ctx.finished = True


class _PolicyStage:
    def __init__(self, holder: PolicyHolder, services: PolicyServices) -> None:
        self._holder = holder
        self._services = services

    def _timer(self, stage: str) -> Histogram:
        return self._services.metrics.stage_latency.labels(stage)


class AccessPolicyStage(_PolicyStage):
    def __init__(self, holder: PolicyHolder, services: PolicyServices) -> None:
        super().__init__(holder, services)
        self._pairing_timer = self._timer("access_policy")

    async def __call__(self, ctx: TurnContext) -> None:
        access = self._holder.current.access
        inbound = ctx.inbound
        ctx.is_admin = access.is_admin(inbound, self._services.admin_key)
        verdict = access.verdict(inbound)
        if verdict is Verdict.ALLOW:
            return
        if verdict is Verdict.DENY:
            silent = inbound.chat_type == "group"
            _refuse(ctx, self._services, "access", None if silent else access.config.denied_message)
            return
        with self._pairing_timer.time():
            if await self._approved(inbound.channel, inbound.user_id):
                return
            code = await self._services.pairings.request(
                inbound.channel,
                inbound.user_id,
                ctx.now,
                access.config.pairing_ttl,
                access.config.max_pending_pairings,
            )
        log.info(
            "pairing requested",
            channel=inbound.channel,
            user=inbound.user_id,
            pending=code is not None,
        )
        _refuse(ctx, self._services, "pairing", PAIRING_TEXT if code else PAIRING_BUSY, code=code)

    async def _approved(self, channel: str, user: str) -> bool:
        now, approved = time.monotonic(), self._services.approved
        if approved.get((channel, user), 0.0) > now:
            return True
        if await self._services.pairings.is_approved(channel, user):
            approved[(channel, user)] = now + APPROVAL_MEMORY
            return True
        return False


def _quota_key(channel: str, user: str, when: float) -> str:
    return f"quota:{datetime.fromtimestamp(when, UTC):%Y%m%d}:{channel}:{user}"


def _until_midnight(when: float) -> float:
    return 86400.0 - when % 86400.0


class RateLimitStage(_PolicyStage, Middleware):
    """Before: token buckets per chat and per user, then the daily token quota. After: the
    turn's model tokens count toward the quota. If the shared store is down the message goes
    through (logged): a limiter outage must not silence the assistant."""

    def __init__(self, holder: PolicyHolder, services: PolicyServices) -> None:
        super().__init__(holder, services)
        self._take_timer = self._timer("rate_limit")
        self._count_timer = self._timer("quota")

    async def __call__(self, ctx: TurnContext, call_next: Next) -> None:
        limits = self._holder.current.limits
        if limits.enabled:
            with self._take_timer.time():
                await self._check(ctx, limits)
        await call_next(ctx)
        tokens = ctx.usage.total_tokens
        if tokens and limits.daily_tokens_per_user:
            with self._count_timer.time():
                await self._count(ctx, tokens)

    async def _check(self, ctx: TurnContext, limits: RateLimitConfig) -> None:
        inbound, limiter = ctx.inbound, self._services.limiter
        buckets = [
            (f"chat:{inbound.channel}:{inbound.chat_id}", limits.per_chat),
            (f"user:{inbound.channel}:{inbound.user_id}", limits.per_user),
        ]
        try:
            for key, rate in buckets:
                if rate is None:
                    continue
                count, window = rate
                wait = await limiter.take(key, limits.burst or count, count / window)
                if wait > 0:
                    _refuse(
                        ctx,
                        self._services,
                        "rate_limit",
                        limits.message,
                        wait,
                        retry=math.ceil(wait),
                    )
                    return
            quota = limits.daily_tokens_per_user
            if (
                quota
                and await limiter.usage(_quota_key(inbound.channel, inbound.user_id, ctx.now))
                >= quota
            ):
                _refuse(
                    ctx, self._services, "quota", limits.quota_message, _until_midnight(ctx.now)
                )
        except (SharedStoreDown, OSError) as exc:
            log.warning("rate limiter unavailable; letting the message through", error=str(exc))

    async def _count(self, ctx: TurnContext, tokens: int) -> None:
        inbound = ctx.inbound
        try:
            await self._services.limiter.add_usage(
                _quota_key(inbound.channel, inbound.user_id, ctx.now),
                tokens,
                _until_midnight(ctx.now) + 3600,
            )
        except (SharedStoreDown, OSError) as exc:
            log.warning("could not count tokens toward the quota", error=str(exc))


class RouteStage(_PolicyStage):
    async def __call__(self, ctx: TurnContext) -> None:
        policies = self._holder.current
        route = policies.routes.resolve(ctx.inbound)
        if route is not None:
            ctx.route = route.name
            ctx.provider_choice = route.provider
            ctx.system_prompt = route.system_prompt
            ctx.temperature = route.temperature
            ctx.max_turns = route.max_turns
            ctx.filters = route.filters
            ctx.tools = tuple(route.tools)
            ctx.time_zone = route.time_zone
        if ctx.provider_choice is None and in_canary(ctx.inbound.session_key, policies.canary):
            assert policies.canary is not None
            ctx.provider_choice = policies.canary.provider
        self._services.metrics.routed.labels(ctx.route or "default").inc()
        if route is not None and route.reply is not None:
            ctx.answer(route.reply)


class InputFilterStage(_PolicyStage):
    async def __call__(self, ctx: TurnContext) -> None:
        policies = self._holder.current
        words = policies.words
        if not words or not ctx.filters:
            return
        inbound = ctx.inbound
        masked, hits = words.mask(inbound.text)
        # An API caller's body: every text it wrote (earlier turns and text parts included),
        # masked where it lies so the rest of the body goes on as sent.
        slots = list(caller_texts(inbound.wire.get("messages"))) if inbound.wire else []
        found = [(slot, *words.mask(slot.text)) for slot in slots]
        hits += sum(count for _, _, count in found)
        if not hits:
            return
        action = policies.words_config.action
        self._services.metrics.policy_events.labels("sensitive_input", action).inc()
        log.info("sensitive words in a message", action=action, hits=hits, text=masked[:200])
        if action == "block":
            _refuse(ctx, self._services, "sensitive_words", policies.words_config.refusal)
            return
        inbound.text = masked
        for slot, text, count in found:
            if count:
                slot.replace(text)


class CacheStage(_PolicyStage, Middleware):
    """Answers a conversation's first question from the cache when the same one was asked;
    on a miss, keeps the model's (filtered) answer for the next one to ask it."""

    def __init__(self, holder: PolicyHolder, services: PolicyServices) -> None:
        super().__init__(holder, services)
        self._get_timer = self._timer("cache")
        self._put_timer = self._timer("cache_store")

    async def __call__(self, ctx: TurnContext, call_next: Next) -> None:
        cache, session = self._holder.current.cache, ctx.session
        # An API caller's answer depends on every field it sent (tools, format, sampling), not
        # only on its question: it is never answered from, nor kept in, the cache.
        # Nor is a message with attachments: the same caption may come with another picture.
        if (
            not cache.enabled
            or session is None
            or session.turns
            or ctx.inbound.wire
            or ctx.inbound.attachments
        ):
            await call_next(ctx)
            return
        provider = session.model or ctx.provider_choice or self._services.default_model() or ""
        key = cache_key(ctx.inbound.text, ctx.route or "", provider)
        try:
            with self._get_timer.time():
                cached = await self._services.answers.get(key)
        except (SharedStoreDown, OSError) as exc:
            log.warning("answer cache unavailable", error=str(exc))
            await call_next(ctx)
            return
        events = self._services.metrics.policy_events
        if cached is not None:
            events.labels("cache", "hit").inc()
            ctx.answer(cached)
            return
        events.labels("cache", "miss").inc()
        await call_next(ctx)
        if ctx.error is not None or not ctx.reply or ctx.provider is None:
            return
        try:
            with self._put_timer.time():
                await self._services.answers.put(key, ctx.reply, cache.ttl)
        except (SharedStoreDown, OSError) as exc:
            log.warning("answer cache unavailable", error=str(exc))


class OutputFilterStage(_PolicyStage, Middleware):
    """Around the model: a streamed answer passes through a `StreamGuard` on its way out, so
    a listed word is never shown even for a moment; afterwards the held-back tail is let out
    and the whole answer (and its reasoning) masked."""

    async def __call__(self, ctx: TurnContext, call_next: Next) -> None:
        policies = self._holder.current
        words = policies.words
        if not words or not policies.words_config.check_output or not ctx.filters:
            await call_next(ctx)
            return
        sink, guard = ctx.on_delta, StreamGuard(words)
        if sink is not None:
            ctx.on_delta = _guarded(guard, sink)
        events = None
        if ctx.on_chunk is not None:
            events = ctx.on_chunk = StreamedAnswerFilter(words, ctx.on_chunk)
        await call_next(ctx)
        if sink is not None and ctx.error is None:
            rest = guard.finish()
            if rest:
                await sink(rest)
        if ctx.reply is None:
            return
        ctx.reply, hits = words.mask(ctx.reply)
        if ctx.reasoning:
            ctx.reasoning, _ = words.mask(ctx.reasoning)
        if ctx.result is not None and ctx.result.wire is not None:
            hits = max(hits, mask_answer(words, ctx.result))
        hits = max(hits, events.hits if events is not None else 0, guard.hits)
        if hits:
            ctx.finish_reason = "content_filter"
            self._services.metrics.policy_events.labels("sensitive_output", "mask").inc()


def _guarded(guard: StreamGuard, sink: DeltaSink) -> DeltaSink:
    async def guarded(piece: str) -> None:
        shown = guard.feed(piece)
        if shown:
            await sink(shown)

    return guarded
