"""`ai-bot doctor` for WeCom: live credentials, then the callback path, naming the wrong value.

1. gettoken tells a wrong corp_id (40013) from a wrong secret (40001/40091).
2. agent/get with that token checks agent_id (301002) and the IP allow-list (60020), which
   gettoken alone does not reveal.
3. A callback self-test: a signed, encrypted URL verification and a text message go through the
   real route in-process, exactly as WeCom would send them.
4. With server.public_url set, the same signed verification is sent to the public address, so a
   proxy in the way or a running gateway with other values shows up before WeCom's console
   says "请求URL失败".

The rows are in the reader's language; WeCom's own error text and console names stay as they are.
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
from aibot.i18n import N_, translate
from aibot.ops.checks import Check

# What to change when the callback route refused for one of these reasons (`Rejected.reason`).
_REASON_FIX = {
    "signature": N_("the Token differs: make channels.wecom.token equal the console's Token"),
    "decrypt": N_(
        "the EncodingAESKey differs: make channels.wecom.encoding_aes_key equal the "
        "console's EncodingAESKey"
    ),
    "receiveid": N_("the corp id differs: make channels.wecom.corp_id equal 我的企业 → 企业ID"),
    "timestamp": N_("this server's clock is off by more than an hour: enable NTP"),
}


async def wecom_checks(
    config: WecomChannelConfig,
    public_url: str | None,
    language: str,
    clock: Clock = SYSTEM_CLOCK,
) -> list[Check]:
    checks = await _credentials(config, language)
    checks.append(await _self_test(config, language, clock))
    if public_url:
        url = public_url.rstrip("/") + WEBHOOK_PATH
        checks.append(await _public_url(config, url, language, clock))
    return checks


async def _credentials(config: WecomChannelConfig, language: str) -> list[Check]:
    api = WecomApi(
        config.corp_id, config.secret.get_secret_value(), config.api_base, timeout=config.timeout
    )
    credentials, app = translate(language, "wecom credentials"), translate(language, "wecom app")
    try:
        try:
            await api.token()
        except PlatformError as exc:
            return [Check(credentials, "fail", str(exc), _fix(exc, config, language))]
        issued = translate(
            language, "access token issued for corp {corp_id}", corp_id=config.corp_id
        )
        token_ok = Check(credentials, "ok", issued)
        try:
            agent = await api.agent(config.agent_id)
        except PlatformError as exc:
            return [token_ok, Check(app, "fail", str(exc), _fix(exc, config, language))]
    finally:
        await api.close()
    trusted = translate(
        language,
        "app {name} (agent {agent_id}); this server's IP is trusted",
        name=repr(agent.get("name", "?")),
        agent_id=config.agent_id,
    )
    return [token_ok, Check(app, "ok", trusted)]


def _fix(exc: PlatformError, config: WecomChannelConfig, language: str) -> str:
    if exc.code is None:
        return translate(
            language, "check that {url} is reachable from this server", url=config.api_base
        )
    fix = config_fix(exc)
    if fix is not None:
        return fix.say(language)
    return translate(
        language, "see https://open.work.weixin.qq.com/devtool/query?e={code}", code=exc.code
    )


async def _self_test(config: WecomChannelConfig, language: str, clock: Clock) -> Check:
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
        return _self_test_failed(_VERIFICATION_REFUSED, status, refusals, language)
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
        return _self_test_failed(_MESSAGE_REFUSED, status, refusals, language)
    passed = translate(
        language,
        "signed, encrypted URL check and message pass "
        "{path} with these token, encoding_aes_key and corp_id",
        path=WEBHOOK_PATH,
    )
    return Check(translate(language, "wecom callback"), "ok", passed)


# Which request of the self-test failed, and how: ({reason} is the route's own word for it).
_VERIFICATION_REFUSED = (
    N_("URL verification refused (HTTP {status}: {reason})"),
    N_("URL verification answered HTTP {status} unexpectedly"),
)
_MESSAGE_REFUSED = (
    N_("message refused (HTTP {status}: {reason})"),
    N_("message answered HTTP {status} unexpectedly"),
)


def _self_test_failed(
    what: tuple[str, str], status: int, refusals: list[Rejected], language: str
) -> Check:
    refused, unexpected = what
    name = translate(language, "wecom callback")
    if refusals:
        reason = refusals[0].reason
        detail = translate(language, refused, status=status, reason=reason)
        fix = _REASON_FIX.get(reason)
        return Check(name, "fail", detail, translate(language, fix) if fix else "")
    detail = translate(language, unexpected, status=status)
    return Check(name, "fail", detail, translate(language, "report this as a bug"))


async def _public_url(config: WecomChannelConfig, url: str, language: str, clock: Clock) -> Check:
    """What WeCom's console will do on 保存: a signed GET to the public address."""
    name = translate(language, "wecom public URL")
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
            name,
            "warn",
            f"{url}: {type(exc).__name__} {exc}",
            translate(language, "start `ai-bot run`, and make the URL reach it (proxy, firewall)"),
        )
    if response.status == 200 and body == echo.encode():
        return Check(name, "ok", translate(language, "{url} answers WeCom's URL check", url=url))
    reason = body.decode("utf-8", "replace")[:40]
    detail = translate(
        language,
        "{url} answered HTTP {status} {reason}",
        url=url,
        status=response.status,
        reason=repr(reason),
    )
    if reason in _REASON_FIX:
        fix = translate(
            language,
            "the running gateway's values differ from this config: {fix}",
            fix=translate(language, _REASON_FIX[reason]),
        )
    else:
        fix = translate(
            language, "the URL does not reach ai-bot's /wecom/webhook; check the reverse proxy"
        )
    return Check(name, "fail", detail, fix)


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
