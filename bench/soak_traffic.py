"""What the soak sends and receives: the channels' shares, prompts and answers, the workers of
each channel, and the asynchronous replies (signed callbacks, Telegram sends) counted per message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from bench.load import Run
from bench.processes import (
    JSON,
)
from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.telegram_api import FakeTelegram

# Share of the client workers (and of the conversations) each channel gets.
SHARES: dict[str, float] = {
    "webhook": 0.25,
    "telegram": 0.25,
    "rest": 0.2,
    "openai": 0.2,
    "openai-stream": 0.1,
}
ASYNC_CHANNELS = ("webhook", "telegram")  # answered on another connection: checked exactly-once
PLATEAU_WINDOW = (0.2, 0.4)  # fractions of the load's duration whose RSS median is the plateau
RSS_TOLERANCE = 0.10  # the RSS at the end may exceed the plateau by at most this fraction
SETTLE = 2.0  # seconds to wait after the load for late or duplicate answers
MAX_CONVERSATIONS = 3000  # default cap: more than the 2,000 the gateway caches, so it evicts
# Credentials of the loopback fakes only.
TG_TOKEN = "123456:SOAK-TOKEN"  # noqa: S105
TG_SECRET = "soak-webhook-secret"  # noqa: S105
CALLBACK_SECRET = "soak-callback-secret"  # noqa: S105
CHAT_BASE = 1_000_000  # Telegram private chat id of conversation n is CHAT_BASE + n

Send = Callable[[int, int], Awaitable[None]]  # (conversation, message number) → sent, timed


def prompt(k: int) -> str:
    return f"soak {k}"


def answer(k: int) -> str:
    """What the fake model answers to message ``k``: it echoes the prompt, so the answer names
    its message and a crossed or mangled reply is caught."""
    return f"echo: {prompt(k)}"


def number_of(text: Any) -> int | None:
    """The message number an answer belongs to, or None for anything that is not one of ours."""
    prefix = answer(0).removesuffix("0")
    if not isinstance(text, str) or not text[len(prefix) :].isdigit():
        return None
    k = int(text[len(prefix) :])
    return k if answer(k) == text else None


def completion_text(body: Any, part: str) -> str | None:
    """The text of an OpenAI completion (``part`` "message") or chunk ("delta"); None when the
    body is not shaped like one, so a malformed answer is an error, not a crash."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        return None
    content = (choices[0].get(part) or {}).get("content")
    return content if isinstance(content, str) else None


# --------------------------------------------------------------------------- asynchronous replies


class Replies:
    """Answers that come back on a connection of their own (a callback, a Telegram send),
    matched to their message by its number and counted, so a lost or doubled answer shows."""

    def __init__(self) -> None:
        self.expected: dict[int, object] = {}  # message number → where its answer must go
        self.counts: Counter[int] = Counter()
        self.stray = 0  # answers to nothing we sent, or not an answer of ours at all
        self._waiting: dict[int, asyncio.Future[float]] = {}

    def expect(self, k: int, where: object) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.expected[k] = where
        self._waiting[k] = future
        return future

    def forget(self, k: int) -> None:
        """Stop waiting for ``k``; an answer arriving later is still counted."""
        self._waiting.pop(k, None)

    def withdraw(self, k: int) -> None:
        """``k`` was not accepted (an error already counted): no answer is due."""
        self.forget(k)
        del self.expected[k]

    def arrived(self, k: int | None, where: object, at: float) -> None:
        """An answer to message ``k`` (None: not one of ours) reached ``where`` at ``at``."""
        if k is None or self.expected.get(k) != where:
            self.stray += 1
            return
        self.counts[k] += 1
        future = self._waiting.pop(k, None)
        if future is not None and not future.done():
            future.set_result(at)

    @property
    def missing(self) -> int:
        return sum(1 for k in self.expected if k not in self.counts)

    @property
    def doubled(self) -> int:
        return sum(n - 1 for n in self.counts.values() if n > 1)


async def collect_callbacks(receiver: CallbackReceiver, replies: Replies) -> None:
    """Match each signed callback to its message as it arrives (and keep the fake's log short).

    A callback is ours when ``in_reply_to`` is ``m-<k>`` and its text is the answer to ``k``.
    """
    while True:
        with contextlib.suppress(TimeoutError):
            await receiver.wait_for(1, timeout=60)
        now = time.perf_counter()
        for body in receiver.received:
            k = number_of(body.get("text"))
            ours = k is not None and body.get("in_reply_to") == f"m-{k}"
            replies.arrived(k if ours else None, body.get("session_id"), now)
        receiver.received.clear()
        receiver.headers.clear()


async def collect_telegram(tg: FakeTelegram, replies: Replies, run: Run) -> None:
    """Match each message the bot sent to its update as it arrives; count failed deliveries.

    The fake is reset after each look, so its logs stay short over a long run.
    """
    while True:
        with contextlib.suppress(TimeoutError):
            await tg.wait_for(lambda: tg.sent or tg.deliveries, timeout=60)
        now = time.perf_counter()
        for message in tg.sent:
            replies.arrived(number_of(message.get("text")), message["chat"]["id"], now)
        for delivery in tg.deliveries:
            if delivery.error is not None:
                run.fail(f"webhook delivery failed: {delivery.error}"[:100])
        for _update in tg.dropped_updates:
            run.fail("update dropped after Telegram's last re-delivery")
        tg.reset()


# --------------------------------------------------------------------------- the channels


class Channels:
    """One timed send per channel, each recording into its own ``Run``."""

    def __init__(
        self, http: aiohttp.ClientSession, url: str, tg: FakeTelegram, reply_timeout: float
    ) -> None:
        self.http = http
        self.url = url
        self.tg = tg
        self.reply_timeout = reply_timeout
        self.runs = {name: Run() for name in SHARES}
        self.replies = {name: Replies() for name in ASYNC_CHANNELS}

    def sender(self, channel: str) -> Send:
        sends: dict[str, Send] = {
            "webhook": self.webhook,
            "telegram": self.telegram,
            "rest": self.rest,
            "openai": self.openai,
            "openai-stream": self.openai_stream,
        }
        return sends[channel]

    def done(self) -> int:
        return sum(len(r.latencies) + r.errors for r in self.runs.values())

    async def _await_reply(
        self, channel: str, k: int, future: asyncio.Future[float], started: float
    ) -> None:
        run = self.runs[channel]
        try:
            arrived = await asyncio.wait_for(future, self.reply_timeout)
        except TimeoutError:
            self.replies[channel].forget(k)
            run.fail(f"no answer within {self.reply_timeout:g} s")
            return
        run.answered(started, arrived - started)

    async def webhook(self, conversation: int, k: int) -> None:
        """``POST /api/v1/messages`` (202 once committed), then wait for its signed callback."""
        session = f"soak-w-{conversation}"
        future = self.replies["webhook"].expect(k, session)
        started = time.perf_counter()
        body = {"message_id": f"m-{k}", "session_id": session, "message": prompt(k)}
        try:
            async with self.http.post(f"{self.url}/api/v1/messages", json=body) as resp:
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.replies["webhook"].withdraw(k)
            self.runs["webhook"].fail(f"{type(exc).__name__}: {exc}"[:100])
            return
        if resp.status != 202:
            self.replies["webhook"].withdraw(k)
            self.runs["webhook"].fail(f"HTTP {resp.status}: {raw[:80].decode(errors='replace')}")
            return
        await self._await_reply("webhook", k, future, started)

    async def telegram(self, conversation: int, k: int) -> None:
        """A user's private message, pushed by the fake Bot API to the gateway's webhook; the
        answer is the bot's ``sendMessage`` to that chat."""
        chat = CHAT_BASE + conversation
        future = self.replies["telegram"].expect(k, chat)
        started = time.perf_counter()
        self.tg.user_message(chat, prompt(k))
        await self._await_reply("telegram", k, future, started)

    async def rest(self, conversation: int, k: int) -> None:
        body = {"session_id": f"soak-r-{conversation}", "message": prompt(k)}
        await self.runs["rest"].send(
            self.http,
            f"{self.url}/api/v1/chat",
            body,
            lambda got: isinstance(got, dict) and got.get("reply") == answer(k),
        )

    async def openai(self, conversation: int, k: int) -> None:
        await self.runs["openai"].send(
            self.http,
            f"{self.url}/v1/chat/completions",
            self._completion(conversation, k),
            lambda got: completion_text(got, "message") == answer(k),
        )

    def _completion(self, conversation: int, k: int, *, stream: bool = False) -> JSON:
        return {
            "model": "fake",
            "user": f"soak-o-{conversation}",
            "metadata": {"session_id": f"soak-o-{conversation}"},  # the remembered conversation
            "stream": stream,
            "messages": [{"role": "user", "content": prompt(k)}],
        }

    async def openai_stream(self, conversation: int, k: int) -> None:
        """``stream: true``: timed to ``data: [DONE]``; the deltas must add up to the answer."""
        run = self.runs["openai-stream"]
        started = time.perf_counter()
        pieces: list[str] = []
        finished = False
        try:
            async with self.http.post(
                f"{self.url}/v1/chat/completions",
                json=self._completion(conversation, k, stream=True),
            ) as resp:
                if resp.status != 200:
                    raw = await resp.read()
                    run.fail(f"HTTP {resp.status}: {raw[:80].decode(errors='replace')}")
                    return
                async for line in resp.content:
                    if not line.startswith(b"data: "):
                        continue
                    data = line[6:].strip()
                    if data == b"[DONE]":
                        finished = True
                        break
                    chunk = orjson.loads(data)
                    if isinstance(chunk, dict) and "error" in chunk:
                        run.fail(f"stream error: {str(chunk['error'])[:80]}")
                        return
                    pieces.append(completion_text(chunk, "delta") or "")
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            run.fail(f"{type(exc).__name__}: {exc}"[:100])
            return
        if not finished:
            run.fail("stream ended without data: [DONE]")
        elif "".join(pieces) != answer(k):
            run.fail(f"wrong streamed answer: {''.join(pieces)[:60]!r}")
        else:
            run.answered(started, time.perf_counter() - started)


def plan_workers(concurrency: int, conversations: int) -> list[tuple[str, list[int]]]:
    """The client workers: each a channel and the conversations it alone uses.

    Each channel gets its ``SHARES`` of the workers (at least one); the conversations are dealt
    round-robin over all workers, so no conversation is used by two workers at once (the gateway
    serialises a conversation: sharing would measure that queue).
    """
    channels = [
        name for name, share in SHARES.items() for _ in range(max(1, round(concurrency * share)))
    ]
    return [(name, list(range(i, conversations, len(channels)))) for i, name in enumerate(channels)]


def gateway_extra(args: argparse.Namespace, port: int, callback_url: str, tg_url: str) -> JSON:
    """The config beyond the benchmark's: both asynchronous channels, the store, Redis."""
    extra: JSON = {
        "server": {"public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "webhook": {"callback_url": callback_url, "secret": CALLBACK_SECRET},
            "telegram": {
                "bot_token": TG_TOKEN,
                "api_base": tg_url,
                "mode": "webhook",
                "webhook_secret": TG_SECRET,
            },
        },
        "session": {"max_turns": args.max_turns},
        "policy": {"cache": {"enabled": True}},  # one more bounded cache under load
    }
    if args.storage_url:
        extra["storage"] = {"url": args.storage_url}
    if args.redis_url:
        extra["redis"] = {"url": args.redis_url}
    return extra
