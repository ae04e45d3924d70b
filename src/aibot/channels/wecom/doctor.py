"""`ai-bot doctor` for WeCom: live credentials, then the callback path, naming the wrong value.

1. gettoken tells a wrong corp_id (40013) from a wrong secret (40001/40091).
2. agent/get with that token checks agent_id (301002) and the IP allow-list (60020), which
   gettoken alone does not reveal.
3. A callback self-test: a signed, encrypted URL verification and a text message go through the
   real route in-process, exactly as WeCom would send them.
4. With server.public_url set, the same signed verification is sent to the public address, so a
   proxy in the way or a running gateway with other values shows up before WeCom's console
   says "请求URL失败".
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlencode
from xml.etree.ElementTree import Element

import aiohttp
from fastapi import FastAPI

from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.errors import PlatformError
from aibot.channels.wecom.client import WecomApi, config_fix
from aibot.channels.wecom.inbound import read_message
from aibot.channels.wecom.verify import CallbackVerifier, Rejected, WecomCrypto
from aibot.channels.wecom.webhook import WEBHOOK_PATH, build_router
from aibot.config import WecomChannelConfig
from aibot.core.messages import Inbound
from aibot.ops.checks import Check

_REASON_FIX = {
    "signature": "the Token differs: make channels.wecom.token equal the console's Token",
    "decrypt": "the EncodingAESKey differs: make channels.wecom.encoding_aes_key equal the "
    "console's EncodingAESKey",
    "receiveid": "the corp id differs: make channels.wecom.corp_id equal 我的企业 → 企业ID",
    "timestamp": "this server's clock is off by more than an hour: enable NTP",
}


async def wecom_checks(
    config: WecomChannelConfig, public_url: str | None, clock: Clock = SYSTEM_CLOCK
) -> list[Check]:
    checks = await _credentials(config)
    checks.append(await _self_test(config, clock))
    if public_url:
        checks.append(await _public_url(config, public_url.rstrip("/") + WEBHOOK_PATH, clock))
    return checks


async def _credentials(config: WecomChannelConfig) -> list[Check]:
    api = WecomApi(
        config.corp_id, config.secret.get_secret_value(), config.api_base, timeout=config.timeout
    )
    try:
        try:
            await api.token()
        except PlatformError as exc:
            return [Check("wecom credentials", "fail", str(exc), _fix(exc, config))]
        token_ok = Check(
            "wecom credentials", "ok", f"access token issued for corp {config.corp_id}"
        )
        try:
            agent = await api.agent(config.agent_id)
        except PlatformError as exc:
            return [token_ok, Check("wecom app", "fail", str(exc), _fix(exc, config))]
    finally:
        await api.close()
    return [
        token_ok,
        Check(
            "wecom app",
            "ok",
            f"app {agent.get('name', '?')!r} (agent "
            f"{config.agent_id}); this server's IP is trusted",
        ),
    ]


def _fix(exc: PlatformError, config: WecomChannelConfig) -> str:
    if exc.code is None:
        return f"check that {config.api_base} is reachable from this server"
    return config_fix(exc) or f"see https://open.work.weixin.qq.com/devtool/query?e={exc.code}"


async def _self_test(config: WecomChannelConfig, clock: Clock) -> Check:
    """Signs and encrypts as WeCom does and sends both requests through the real route."""
    refusals: list[Rejected] = []
    received: list[Element] = []

    async def handle(message: Element) -> None:
        received.append(message)

    app = FastAPI()
    app.include_router(
        build_router(CallbackVerifier(config, clock=clock.now), handle, refusals.append)
    )
    wecom = _wecom_side(config)
    echo = str(secrets.randbelow(10**19))
    status, body = await _asgi(app, "GET", _verification_query(wecom, echo, clock), b"")
    if status != 200 or body != echo.encode():
        return _self_test_failed("URL verification", status, refusals)
    message = (
        f"<xml><ToUserName><![CDATA[{config.corp_id}]]></ToUserName><FromUserName>"
        f"<![CDATA[ai-bot-doctor]]></FromUserName><CreateTime>{int(clock.now())}"
        f"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ping]]>"
        f"</Content><MsgId>1</MsgId><AgentID>{config.agent_id}</AgentID></xml>"
    )
    encrypted = wecom.encrypt(message)
    envelope = (
        f"<xml><ToUserName><![CDATA[{config.corp_id}]]></ToUserName><AgentID>"
        f"<![CDATA[{config.agent_id}]]></AgentID><Encrypt><![CDATA[{encrypted}]]>"
        f"</Encrypt></xml>"
    )
    status, body = await _asgi(
        app, "POST", urlencode(_signature_params(wecom, encrypted, clock)), envelope.encode()
    )
    inbound = read_message(received[0], config.agent_id) if received else None
    if status != 200 or body or not isinstance(inbound, Inbound) or inbound.text != "ping":
        return _self_test_failed("message", status, refusals)
    return Check(
        "wecom callback",
        "ok",
        f"signed, encrypted URL check and message pass "
        f"{WEBHOOK_PATH} with these token, encoding_aes_key and corp_id",
    )


def _self_test_failed(what: str, status: int, refusals: list[Rejected]) -> Check:
    if refusals:
        return Check(
            "wecom callback",
            "fail",
            f"{what} refused ({status}): {refusals[0]}",
            _REASON_FIX.get(refusals[0].reason, ""),
        )
    return Check(
        "wecom callback",
        "fail",
        f"{what} answered HTTP {status} unexpectedly",
        "report this as a bug",
    )


async def _public_url(config: WecomChannelConfig, url: str, clock: Clock) -> Check:
    """What WeCom's console will do on 保存: a signed GET to the public address."""
    echo = str(secrets.randbelow(10**19))
    query = _verification_query(_wecom_side(config), echo, clock)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(f"{url}?{query}") as response,
        ):
            body = await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Check(
            "wecom public URL",
            "warn",
            f"{url}: {type(exc).__name__} {exc}",
            "start `ai-bot run`, and make the URL reach it (proxy, firewall)",
        )
    if response.status == 200 and body == echo.encode():
        return Check("wecom public URL", "ok", f"{url} answers WeCom's URL check")
    reason = body.decode("utf-8", "replace")[:40]
    fix = _REASON_FIX.get(
        reason, "the URL does not reach ai-bot's /wecom/webhook; check the reverse proxy"
    )
    return Check(
        "wecom public URL",
        "fail",
        f"{url} answered HTTP {response.status} {reason!r}",
        f"the running gateway's values differ from this config: {fix}"
        if reason in _REASON_FIX
        else fix,
    )


def _wecom_side(config: WecomChannelConfig) -> WecomCrypto:
    return WecomCrypto(
        config.token.get_secret_value(), config.encoding_aes_key.get_secret_value(), config.corp_id
    )


def _signature_params(wecom: WecomCrypto, encrypted: str, clock: Clock) -> dict[str, str]:
    timestamp, nonce = str(int(clock.now())), str(secrets.randbelow(10**10))
    return {
        "msg_signature": wecom.sign(timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
    }


def _verification_query(wecom: WecomCrypto, echo: str, clock: Clock) -> str:
    encrypted = wecom.encrypt(echo)
    return urlencode({**_signature_params(wecom, encrypted, clock), "echostr": encrypted})


async def _asgi(app: FastAPI, method: str, query: str, body: bytes) -> tuple[int, bytes]:
    """One request straight into the ASGI app: no socket, so the check needs no free port."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": WEBHOOK_PATH,
        "raw_path": WEBHOOK_PATH.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 80),
        "headers": [(b"content-length", str(len(body)).encode())],
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
