"""The fuzz tests' rig: one real `ai-bot run` with every channel in webhook mode, and what the
fuzz tests share: correctly signed requests per platform (to mutate), sending from Hypothesis's
worker thread, and the checks made afterwards (no 5xx, no traceback, nothing stored, no model
call).

Hypothesis drives synchronous functions, while the gateway's fakes (model, platform APIs) live
on the module's event loop. So each property runs in a worker thread (`in_thread`) and hands its
requests to the loop (`Rig.send`): the loop stays free to serve the fakes meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from hypothesis import settings
from yarl import URL

from aibot.channels.dingtalk.verify import sign as dingtalk_sign
from aibot.channels.feishu.verify import encrypt as feishu_encrypt
from aibot.channels.feishu.verify import signature as feishu_signature
from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.dingtalk_api import CLIENT_SECRET, FakeDingtalk
from tests.fakes.feishu_api import FakeFeishu
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wecom_api import FakeWecom
from tests.support.gateway import (
    API_KEY,
    PROVIDER_KEY,
    RunningGateway,
    base_config,
    deep_merge,
    gateway_env,
)
from tests.support.log_leaks import configured_secrets
from tests.support.platforms import (
    FEISHU_KEY,
    TELEGRAM_SECRET,
    platform_fakes,
    platforms_config,
)

CALLBACK_SECRET = "fuzz-callback-secret"
SECOND_API_KEY = "fuzz-second-key-123"
# Chat admins by platform id: the identity check proves no caller of an API can claim them.
ADMINS = ["telegram:4242", "4242", "ou_admin", "api:key-1:boss", "web:key-1:127.0.0.1"]
REQUEST_TIMEOUT = 20.0
# Written by uvicorn/starlette for an exception no handler caught, and by `log.exception`.
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Exception in ASGI application")


def fuzz_settings(max_examples: int) -> settings:
    """Settings of every property here. No deadline: one example is a loopback round trip
    whose time depends on the shared 2-core box, and each is already bounded by the HTTP
    client's timeout. No example database: runs must not leave files in the work tree."""
    return settings(max_examples=max_examples, deadline=None, database=None, print_blob=True)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    set_cookies: list[str]


@dataclass
class Rig:
    """The running gateway, its fakes and a client; `seen` records every answer's status."""

    gw: RunningGateway
    llm: FakeOpenAI
    telegram: FakeTelegram
    feishu: FakeFeishu
    wecom: FakeWecom
    dingtalk: FakeDingtalk
    receiver: CallbackReceiver
    http: aiohttp.ClientSession
    loop: asyncio.AbstractEventLoop
    secrets: frozenset[str] = frozenset()  # what the gateway itself considers secret
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _log_from: int = 0  # characters of the log written before `mark`

    def mark(self) -> None:
        """Later checks of answers and the log look only at what comes after this call."""
        self.seen.clear()
        self._log_from = len(self.gw.log())

    # -- sending ------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: str = "",
        cookies: dict[str, str] | None = None,
        port: int | None = None,
    ) -> Reply:
        """One request with exactly these bytes; `query` is sent as written (no re-encoding);
        to `port` when given (the console's own, `admin.port`), else the gateway's."""
        base = self.gw.url if port is None else f"http://{self.gw.config['server']['host']}:{port}"
        url = URL(f"{base}{path}" + (f"?{query}" if query else ""), encoded=True)
        async with self.http.request(
            method, url, data=body, headers=headers or {}, cookies=cookies, allow_redirects=False
        ) as response:
            reply = Reply(
                response.status,
                await response.read(),
                dict(response.headers),
                response.headers.getall("Set-Cookie", []),
            )
        self.seen.append((method, path, reply.status))
        return reply

    def send(self, method: str, path: str, **options: Any) -> Reply:
        """`request` from a worker thread (a Hypothesis example), run on the rig's loop."""
        future = asyncio.run_coroutine_threadsafe(self.request(method, path, **options), self.loop)
        return future.result(REQUEST_TIMEOUT + 5)

    # -- what was done with it ----------------------------------------------------------------
    def inbox(self) -> list[tuple[str, str]]:
        """(channel, message_id) of every stored platform message."""
        with sqlite3.connect(self.gw.workdir / "ai-bot.db") as db:
            return db.execute("SELECT channel, message_id FROM inbox ORDER BY id").fetchall()

    def pending(self) -> int:
        """Stored messages not yet answered (or failed for good)."""
        with sqlite3.connect(self.gw.workdir / "ai-bot.db") as db:
            return int(
                db.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()[0]
            )

    def server_errors(self) -> list[tuple[str, str, int]]:
        return [answer for answer in self.seen if answer[2] >= 500]

    def leaked(self, reply: Reply) -> list[str]:
        """The first characters of every configured secret in an answer's body or headers."""
        sent = reply.body.decode("utf-8", "replace") + repr(reply.headers)
        return [f"{secret[:3]}…" for secret in sorted(self.secrets) if secret in sent]

    def tracebacks(self) -> list[str]:
        return [
            line[:2000]
            for line in self.gw.log()[self._log_from :].splitlines()
            if any(marker in line for marker in TRACEBACK_MARKERS)
        ]

    def platform_sends(self) -> int:
        """Calls the gateway made on the platforms' behalf after start (answers, notices)."""
        return (
            len(self.telegram.sent)
            + len(self.wecom.sent)
            + len(self.dingtalk.sent)
            + len(self.feishu.ops("reply"))
            + len(self.feishu.ops("create"))
            + len(self.receiver.received)
        )

    def cpu_seconds(self) -> float:
        """CPU time the gateway process has used so far (user + system, every thread)."""
        assert self.gw.process is not None
        stat = Path(f"/proc/{self.gw.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after "(name)": state is field 3
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def healthy(self) -> bool:
        async with self.http.get(f"{self.gw.url}/healthz") as response:
            return (
                response.status == 200
                and self.gw.process is not None
                and self.gw.process.returncode is None
            )

    async def assert_nothing_accepted(self) -> None:
        """The promise for requests without valid credentials: no 5xx, no traceback, nothing
        stored, no model call, nothing sent, and the gateway still serves."""
        assert self.server_errors() == []
        assert self.tracebacks() == []
        assert self.inbox() == []
        assert self.llm.requests == []
        assert self.platform_sends() == 0
        assert await self.healthy()

    # -- correctly signed requests, the starting point of mutations ---------------------------
    def next_id(self) -> int:
        return next(self._ids)

    def telegram_update(self, text: str = "hello") -> bytes:
        update_id = 500_000_000 + self.next_id()
        return orjson.dumps(
            {
                "update_id": update_id,
                "message": {
                    "message_id": update_id,
                    "date": int(time.time()),
                    "text": text,
                    "chat": {"id": 4242, "type": "private", "first_name": "Ann"},
                    "from": {"id": 4242, "is_bot": False, "first_name": "Ann"},
                },
            }
        )

    @staticmethod
    def telegram_headers(secret: str = TELEGRAM_SECRET) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}

    def feishu_event(self, text: str = "hello") -> dict[str, Any]:
        return self.feishu.user_message(f"oc_fuzz{self.next_id()}", text, push=False)

    @staticmethod
    def feishu_request(
        payload: bytes, *, timestamp: float | None = None, nonce: str = "nonce-1"
    ) -> tuple[bytes, dict[str, str]]:
        """`payload` encrypted and signed with the gateway's Encrypt Key, as Feishu sends it."""
        body = orjson.dumps({"encrypt": feishu_encrypt(FEISHU_KEY, payload)})
        stamp = str(int(time.time() if timestamp is None else timestamp))
        return body, {
            "Content-Type": "application/json",
            "X-Lark-Request-Timestamp": stamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": feishu_signature(stamp, nonce, FEISHU_KEY, body),
        }

    def wecom_message(self, text: str = "hello") -> str:
        return self.wecom.text_xml("zhangsan", text, msg_id=7_000_000_000 + self.next_id())

    def wecom_request(self, message: str, *, timestamp: float | None = None) -> tuple[str, bytes]:
        """The query string and body WeCom POSTs for `message` (encrypted, signed)."""
        encrypted = self.wecom.encrypt(message)
        stamp = None if timestamp is None else str(int(timestamp))
        return encode_query(
            self.wecom.signed_query(encrypted, timestamp=stamp)
        ), self.wecom.envelope(encrypted)

    def dingtalk_message(self, text: str = "hello") -> bytes:
        return orjson.dumps(self.dingtalk.message(text, msg_id=f"msgfuzz{self.next_id()}"))

    @staticmethod
    def dingtalk_headers(
        timestamp_ms: int | None = None, secret: str = CLIENT_SECRET
    ) -> dict[str, str]:
        stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
        return {
            "Content-Type": "application/json",
            "timestamp": stamp,
            "sign": dingtalk_sign(stamp, secret),
        }

    @staticmethod
    def bearer(key: str = API_KEY) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}


def encode_query(params: dict[str, str]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())


async def in_thread(prop: Callable[[], None]) -> None:
    """Runs a Hypothesis property off the loop, so the loop can serve the fakes meanwhile."""
    await asyncio.to_thread(prop)


def channels_config(port: int, fakes: dict[str, Any], callback_url: str) -> dict[str, Any]:
    """Every optional feature on, so the fuzz tests reach every route any config can serve
    (`test_no_configuration_serves_an_unfuzzed_route`): every platform channel in its webhook
    (HTTP) mode, the generic webhook channel, GraphiQL, and a web page that asks for a key even
    on loopback (else it is open by design); two API keys, and chat admins named by id."""
    platforms = platforms_config(port, fakes)
    return {
        "server": platforms["server"],
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
        "policy": {"access": {"admins": ADMINS}},
        "channels": {
            "api": {"keys": [API_KEY, SECOND_API_KEY], "graphiql": True},
            "webchat": {"require_key": True},
            "webhook": {"callback_url": callback_url, "secret": CALLBACK_SECRET, "timeout": 2},
            **platforms["channels"],
        },
    }


@asynccontextmanager
async def running_rig(workdir: Path, extra: dict[str, Any] | None = None) -> AsyncIterator[Rig]:
    """The gateway in `workdir` with every fake it talks to, and a client with a timeout;
    `extra` is deep-merged over its config."""
    async with AsyncExitStack() as stack:
        fakes: dict[str, Any] = {
            "llm": await stack.enter_async_context(FakeOpenAI()),
            **await platform_fakes(stack),
            "receiver": await stack.enter_async_context(CallbackReceiver(CALLBACK_SECRET)),
        }
        base = base_config(workdir, fakes["llm"])
        config = deep_merge(
            deep_merge(base, channels_config(base["server"]["port"], fakes, fakes["receiver"].url)),
            extra or {},
        )
        gw = RunningGateway(workdir, config, gateway_env())
        stack.push_async_callback(gw.stop)
        await gw.start()
        http = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        )
        secrets = configured_secrets(config, gw.env, (API_KEY, PROVIDER_KEY))
        yield Rig(gw=gw, http=http, loop=asyncio.get_running_loop(), secrets=secrets, **fakes)


async def socket_exchange(
    rig: Rig, path: str, frames: list[str | bytes], protocols: tuple[str, ...] = ()
) -> tuple[list[str], int | None]:
    """Sends `frames` on a new socket to `path`, then reads until the server closes it: the
    `type` of every JSON text frame received, and the close code."""
    seen: list[str] = []
    async with rig.http.ws_connect(
        f"{rig.gw.url}{path}", protocols=protocols, timeout=aiohttp.ClientWSTimeout(ws_receive=20)
    ) as ws:
        for frame in frames:
            try:
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
            except ConnectionResetError:
                break  # the gateway closed after an earlier frame
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                seen.append(str(orjson.loads(message.data).get("type")))
        return seen, ws.close_code
