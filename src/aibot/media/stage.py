"""The media stage: a message's attachments become what the model reads, before the input
filter, so the policies see the text that results (a transcript, a file's text).

Around the stages after it: before, each attachment is resolved (`intake.py`), the message's
text grows by the transcripts and files' text (a header names each file), pictures become
image parts, the turn's `media` rows are queued with its writes, and a provider that can see is
chosen when pictures came; after, a voice note's reply starts with what was understood. A
refusal (too big, wrong type, no vision model, the daily quota…) is one clear reply and the
exchange is not remembered. Follow-ups: pictures of earlier turns still in the context are sent
again, from the blob store.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from aibot.config import MediaConfig
from aibot.core.media import MediaRefused
from aibot.core.media_replies import refusal_text
from aibot.core.pipeline import Middleware, Next, TurnContext
from aibot.core.sessions import WriteOp
from aibot.i18n import N_, translate
from aibot.media.blobs import LocalBlobStore
from aibot.media.intake import Intake, Resolved
from aibot.ops.metrics import Metrics

log = structlog.get_logger("aibot.media")

DAY = 86400.0
IMAGE_MARK = "[图片 / image: "  # in a stored user turn: its pictures are looked up again
CUT_NOTE = "\n[… 文件较长，以上为开头部分 / the file is longer: only its beginning is shown]"
# The question sent with pictures that came without words, in the user's language.
DEFAULT_IMAGE_PROMPT = N_("Describe the picture, or answer what it asks.")


class MediaLedger(Protocol):
    def record(
        self,
        *,
        session_key: str,
        channel: str,
        user_id: str,
        request_id: str,
        kind: str,
        mime: str,
        name: str,
        size: int,
        blob: str,
        now: float,
    ) -> WriteOp: ...

    async def count_since(self, user_id: str, since: float) -> int: ...

    async def for_requests(self, session_key: str, request_ids: list[str]) -> list[Any]: ...


class VisionChoice:
    """Which provider answers pictures: the chat's own if it can see, else `models.vision`."""

    def __init__(
        self,
        sees: Callable[[str | None], bool],
        fallback: str | None,
        default: Callable[[], str | None],
    ) -> None:
        self._sees = sees
        self._fallback = fallback
        self._default = default

    def for_turn(self, ctx: TurnContext) -> str | None:
        """The provider to use instead of the chat's own (None: keep it); refuses when none
        can see."""
        chosen = (
            (ctx.session.model if ctx.session else None)
            or ctx.inbound.model
            or ctx.provider_choice
            or self._default()
        )
        if self._sees(chosen):
            return None
        if self._fallback is not None:
            return self._fallback
        raise MediaRefused("no_vision")


class MediaStage(Middleware):
    def __init__(
        self,
        config: MediaConfig,
        intake: Intake,
        ledger: MediaLedger,
        blobs: LocalBlobStore,
        vision: VisionChoice,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        *,
        max_turns: int = 20,
    ) -> None:
        self._max_turns = max_turns  # session.max_turns: how far back pictures are sent again
        self._config = config
        self._intake = intake
        self._ledger = ledger
        self._blobs = blobs
        self._vision = vision
        self._metrics = metrics
        self._clock = clock

    async def __call__(self, ctx: TurnContext, call_next: Next) -> None:
        inbound = ctx.inbound
        if inbound.wire is not None:
            await call_next(ctx)  # an API caller's own parts go to the model as sent
            return
        if not inbound.attachments:
            await self._follow_ups(ctx)
            await call_next(ctx)
            return
        try:
            resolved = await self._resolve(ctx)
        except MediaRefused as refused:
            self._metrics.media_errors.labels("check", refused.reason).inc()
            log.info("attachment refused", reason=refused.reason, channel=inbound.channel)
            ctx.keep_turn = False
            ctx.answer(refusal_text(refused, ctx.language))
            return
        transcript = self._apply(ctx, resolved)
        await call_next(ctx)
        if transcript and ctx.reply and ctx.error is None:
            ctx.reply = f"🎤 “{transcript}”\n\n{ctx.reply}"

    async def _resolve(self, ctx: TurnContext) -> list[Resolved]:
        inbound = ctx.inbound
        if not self._config.enabled:
            raise MediaRefused("disabled")
        attachments = inbound.attachments[: self._config.max_files]
        for attachment in attachments:
            self._metrics.media_in.labels(inbound.channel, attachment.kind).inc()
        quota = self._config.daily_quota
        if quota:
            used = await self._ledger.count_since(inbound.user_id, ctx.now - DAY)
            if used + len(attachments) > quota:
                raise MediaRefused("quota", limit=quota)
        resolved = [await self._intake.resolve(inbound.channel, a) for a in attachments]
        if any(item.image for item in resolved):
            ctx.provider_override = self._vision.for_turn(ctx)
        return resolved

    def _apply(self, ctx: TurnContext, resolved: list[Resolved]) -> str:
        """The message as the model and the policies read it; returns the voice transcript."""
        inbound = ctx.inbound
        caption = inbound.text.strip()
        blocks: list[str] = []
        spoken: list[str] = []
        for item in resolved:
            if item.image:
                ctx.media_parts.append({"type": "image_url", "image_url": {"url": item.image}})
                blocks.append(f"{IMAGE_MARK}{item.name}]")
            elif item.kind == "audio" and item.text:
                spoken.append(item.text)
            elif item.text is not None:
                note = CUT_NOTE if item.cut else ""
                blocks.append(f"[文件 / file: {item.name}]\n{item.text}{note}")
            if item.blob is not None:
                ctx.writes.append(self._row(ctx, item))
        transcript = " ".join(spoken).strip()
        question = "\n".join(part for part in (caption, transcript) if part)
        if not question and ctx.media_parts:
            question = self._config.image_prompt or translate(ctx.language, DEFAULT_IMAGE_PROMPT)
        inbound.text = "\n\n".join([*blocks, question]) if blocks else question
        return transcript

    def _row(self, ctx: TurnContext, item: Resolved) -> WriteOp:
        inbound = ctx.inbound
        assert item.blob is not None
        return self._ledger.record(
            session_key=inbound.session_key,
            channel=inbound.channel,
            user_id=inbound.user_id,
            request_id=inbound.request_id,
            kind=item.kind,
            mime=item.mime,
            name=item.name,
            size=item.size,
            blob=item.blob,
            now=ctx.now,
        )

    async def _follow_ups(self, ctx: TurnContext) -> None:
        """Pictures of the earlier turns still in memory go with them again, when a model that
        can see answers (else the turns' text alone, which names the pictures)."""
        session = ctx.session
        if session is None:
            return
        limit = self._max_turns if ctx.max_turns is None else ctx.max_turns
        # The context keeps at most `limit` earlier questions: only their pictures are read.
        users = [turn for turn in session.turns if turn["role"] == "user"]
        questions = users[-(limit + 1) :] if limit else []
        asked = [
            q["request_id"] for q in questions if q["request_id"] and IMAGE_MARK in q["content"]
        ]
        if not asked:
            return
        try:
            override = self._vision.for_turn(ctx)
        except MediaRefused:
            return
        rows = await self._ledger.for_requests(ctx.inbound.session_key, asked)
        for row in rows:
            if row.kind != "image" or not self._blobs.exists(row.blob):
                continue
            data = await asyncio.to_thread(self._blobs.read, row.blob)
            url = f"data:{row.mime};base64,{base64.b64encode(data).decode()}"
            ctx.history_parts.setdefault(row.request_id, []).append(
                {"type": "image_url", "image_url": {"url": url}}
            )
        if ctx.history_parts:
            ctx.provider_override = override
