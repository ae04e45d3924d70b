"""The WeCom (企业微信) self-built app channel: encrypted callbacks in, `message/send` out.

Callbacks are verified, decrypted, committed to the inbox and answered with an empty 200 at once;
the model's answer is sent later through the outbox, split under 2048 UTF-8 bytes, one member
at most 30 times a minute (WeCom drops the excess silently, so we wait instead). Replies that
fail part-way resume after the parts already delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

import structlog

from aibot.channels.base import ChannelContext, Problem, error_text
from aibot.channels.errors import PlatformError
from aibot.channels.wecom.approval import UPDATE_PATH, question_card, settle
from aibot.channels.wecom.client import RATE_LIMITED, MemberLimiter, WecomApi, config_fix
from aibot.channels.wecom.format import split_utf8
from aibot.channels.wecom.inbound import CHANNEL, CardPress, Notice, WecomReply, read_message
from aibot.channels.wecom.media import WecomMedia
from aibot.channels.wecom.verify import CallbackVerifier, Rejected
from aibot.config import WecomChannelConfig
from aibot.core.errors import SendError
from aibot.core.events import PlatformEvent
from aibot.core.media import MediaFetcher
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink
from aibot.i18n import N_, pick, translate

if TYPE_CHECKING:
    from fastapi import APIRouter

log = structlog.get_logger("aibot.wecom")

NOTICES_REMEMBERED = 10_000


class WecomChannel:
    name = CHANNEL

    def __init__(self, config: WecomChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._inbox = context.inbox
        self._events = context.events
        self._clock = context.clock
        self.api = WecomApi(
            config.corp_id,
            config.secret.get_secret_value(),
            config.api_base,
            timeout=config.timeout,
            clock=context.clock.monotonic,
        )
        self._media = WecomMedia(self.api)
        self.media: MediaFetcher | None = self._media
        self.verifier = CallbackVerifier(config, clock=context.clock.now)
        self.limiter = MemberLimiter(clock=context.clock.monotonic)
        self._progress: dict[int, int] = {}  # outbox id -> parts already delivered
        self._noticed: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_error: Problem | None = None
        self.last_refusal: Problem | None = None

    @property
    def exclusive(self) -> bool:
        return False

    def status(self, language: str) -> dict[str, Any]:
        return {
            "ok": self.last_error is None,
            "error": error_text(self.last_error, language),
            "last_refused_callback": error_text(self.last_refusal, language),
        }

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Callbacks are served at once; the credentials are checked in the background."""
        self._spawn(self._check_credentials())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.api.close()
        await self._media.close()

    async def _check_credentials(self) -> None:
        try:
            await self.api.token()
        except PlatformError as exc:
            self._record(exc)
            log.error("wecom cannot send replies", error=str(self.last_error or exc))
            return
        log.info("wecom ready", corp_id=self._config.corp_id, agent_id=self._config.agent_id)

    # -- receiving ------------------------------------------------------------------------
    def router(self) -> APIRouter | None:
        from aibot.channels.wecom.webhook import build_router  # FastAPI: the full app's build

        return build_router(self.verifier, self.receive, self._refused)

    def _refused(self, exc: Rejected) -> None:
        self.last_refusal = exc.fix
        log.warning("wecom callback refused", reason=exc.reason, fix=str(exc.fix))

    async def receive(self, message: Element) -> None:
        """Commits a text message to the inbox; a non-text message gets the notice; a press on
        an approval card settles its question (`approval.py`)."""
        item = read_message(message, self._config.agent_id, clock=self._clock.now)
        if isinstance(item, Inbound):
            await self._inbox.accept(item)
        elif isinstance(item, PlatformEvent):
            await self._events.handle(item)
        elif isinstance(item, CardPress):
            update = await settle(self._inbox.approvals, item, self._config.agent_id)
            if update is not None:
                self._spawn(self._update_card(update))
        elif (
            isinstance(item, Notice)
            and self._config.text_only_notice
            and self._first_time(item.key)
        ):
            notice = translate(pick(None), self._config.text_only_notice)  # WeCom sends no locale
            self._spawn(self._notify(item.user, notice))

    def _first_time(self, key: str) -> bool:
        if key in self._noticed:
            return False
        self._noticed[key] = None
        if len(self._noticed) > NOTICES_REMEMBERED:
            self._noticed.popitem(last=False)
        return True

    async def _notify(self, user: str, text: str) -> None:
        """Best effort, outside the outbox: a notice is skipped rather than queued."""
        if self.limiter.wait(user) > 0:
            return
        self.limiter.record(user)
        try:
            await self.api.send(self._body(user, text, "text"))
        except PlatformError as exc:
            log.warning("wecom notice not sent", user=user, error=str(exc))

    async def _update_card(self, body: dict[str, Any]) -> None:
        """Best effort, after the callback's 200: a repeated press's code is already used."""
        try:
            await self.api.call("POST", UPDATE_PATH, body=body)
        except PlatformError as exc:
            log.info("wecom card not updated", error=str(exc))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sending --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """WeCom apps have no "typing…" indicator nor editable messages to stream into."""
        yield None

    async def send(self, outbound: Outbound) -> None:
        """Sends the reply in ≤2048-byte parts, resuming after parts already delivered; a
        tool's question ends with its approve/deny card."""
        key = outbound.outbox_id or 0
        user = WecomReply.of(outbound.target).touser
        parts = [
            self._body(user, part, self._config.reply_format) for part in split_utf8(outbound.text)
        ]
        token = outbound.target.approval
        if token is not None:  # a tool's question: its approve/deny card follows the text
            parts.append(question_card(user, self._config.agent_id, token, outbound.target.locale))
        for index in range(self._progress.get(key, 0), len(parts)):
            wait = self.limiter.wait(user)
            if wait > 0:
                raise SendError(
                    f"WeCom allows 30 messages a minute per member; {user} waits {wait:.1f} s",
                    retry_after=wait,
                )
            self.limiter.record(user)
            try:
                answer = await self.api.send(parts[index])
            except PlatformError as exc:
                # The client marked it final or not (busy, network and the IP allow-list
                # retry); WeCom's rate limits wait `rate_limit_wait`.
                self._record(exc)
                if exc.code in RATE_LIMITED:
                    exc.retry_after = self._config.rate_limit_wait
                if exc.permanent:
                    self._progress.pop(key, None)
                raise
            if user in str(answer.get("invaliduser") or "").split("|"):
                self._progress.pop(key, None)
                raise SendError(f"WeCom says {user} is not a valid recipient", permanent=True)
            self._progress[key] = index + 1
            self.last_error = None
        self._progress.pop(key, None)

    def _body(self, user: str, content: str, kind: str) -> dict[str, Any]:
        return {
            "touser": user,
            "msgtype": kind,
            "agentid": self._config.agent_id,
            kind: {"content": content},
            "safe": 0,
            "enable_duplicate_check": 0,
        }

    def _record(self, exc: PlatformError) -> None:
        """Problems the user must fix (and transport trouble) are shown in /readyz."""
        fix = config_fix(exc)
        if fix is not None:
            self.last_error = Problem(N_("{error} ({fix})"), {"error": str(exc), "fix": fix})
        elif exc.code is None:
            self.last_error = Problem(N_("could not reach WeCom: {error}"), {"error": str(exc)})
