"""`ai-bot doctor` for Feishu: live credentials, then (webhook mode) the gateway's own URL.

The credential check fetches a tenant_access_token and names the value that is wrong. With the
gateway running locally, a correctly encrypted and signed URL challenge is POSTed to its
`/feishu/webhook`, exactly as Feishu's console does, and each step is reported.
"""

from __future__ import annotations

import importlib.util
import secrets

import aiohttp
import orjson

from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.errors import PlatformError
from aibot.channels.feishu.client import FeishuApi
from aibot.channels.feishu.connection import INSTALL_HINT
from aibot.channels.feishu.verify import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    encrypt,
    signature,
)
from aibot.channels.feishu.webhook import WEBHOOK_PATH
from aibot.config import FeishuChannelConfig, ServerConfig
from aibot.ops.checks import Check

# What the token endpoint answers for a wrong app_id / app_secret [PROTOCOLS.md: unverified].
BAD_APP_ID = {10003, 10002}
BAD_APP_SECRET = {10014}


async def feishu_checks(
    config: FeishuChannelConfig, server: ServerConfig, clock: Clock = SYSTEM_CLOCK
) -> list[Check]:
    checks = [await _credentials(config)]
    if config.mode == "websocket":
        checks.append(
            Check("feishu long connection", "ok", "lark-oapi installed")
            if importlib.util.find_spec("lark_oapi")
            else Check(
                "feishu long connection", "fail", INSTALL_HINT, "pip install 'ai-bot[feishu-ws]'"
            )
        )
    elif checks[0].status == "ok":
        checks.append(await webhook_self_test(config, server, clock))
    return checks


async def _credentials(config: FeishuChannelConfig) -> Check:
    api = FeishuApi(config.app_id, config.app_secret.get_secret_value(), config.base_url)
    try:
        await api.tenant_token()
        bot = await api.bot_info()
    except PlatformError as exc:
        if exc.code in BAD_APP_ID:
            fix = "channels.feishu.app_id is wrong: copy the App ID (cli_…) from the console"
        elif exc.code in BAD_APP_SECRET:
            fix = "channels.feishu.app_secret is wrong: copy the App Secret again"
        elif exc.code is None:
            fix = f"check that {config.base_url} is reachable (or channels.feishu.domain)"
        else:
            fix = "enable the bot ability (Features → Bot) and publish a version of the app"
        return Check("feishu", "fail", f"credentials refused: {exc}", fix)
    finally:
        await api.close()
    return Check(
        "feishu",
        "ok",
        f"app {bot.get('app_name', '?')}, bot open_id "
        f"{bot.get('open_id', '?')} ({config.mode} mode)",
    )


async def webhook_self_test(
    config: FeishuChannelConfig, server: ServerConfig, clock: Clock = SYSTEM_CLOCK
) -> Check:
    """POSTs an encrypted, signed challenge to the running gateway and checks the echo."""
    url = server.local_url + WEBHOOK_PATH
    challenge = secrets.token_hex(8)
    token = config.verification_token.get_secret_value() if config.verification_token else ""
    plain = orjson.dumps({"challenge": challenge, "token": token, "type": "url_verification"})
    key = config.encrypt_key.get_secret_value() if config.encrypt_key else ""
    body = orjson.dumps({"encrypt": encrypt(key, plain)}) if key else plain
    headers = {"Content-Type": "application/json"}
    if key:
        timestamp, nonce = str(int(clock.now())), secrets.token_hex(8)
        headers.update(
            {
                TIMESTAMP_HEADER: timestamp,
                NONCE_HEADER: nonce,
                SIGNATURE_HEADER: signature(timestamp, nonce, key, body),
            }
        )
    steps = ["encrypted + signed" if key else "plain (no encrypt_key)"]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response,
        ):
            status, answer = response.status, await response.read()
    except (TimeoutError, aiohttp.ClientError):
        return Check(
            "feishu webhook",
            "warn",
            f"gateway not running at {url}",
            "start `ai-bot run`, then run `ai-bot doctor` again to test the webhook",
        )
    steps.append(f"POST {WEBHOOK_PATH} → HTTP {status}")
    if status == 404:
        return Check(
            "feishu webhook",
            "fail",
            "; ".join(steps),
            "the running gateway has no Feishu webhook: restart it with this config",
        )
    if status != 200:
        return Check(
            "feishu webhook",
            "fail",
            "; ".join(steps),
            "the running gateway uses other encrypt_key / verification_token values; "
            "restart it with this config",
        )
    echoed = _challenge(answer) == challenge
    steps.append("challenge echoed" if echoed else "challenge NOT echoed")
    if not echoed:
        return Check("feishu webhook", "fail", "; ".join(steps), "see the gateway log")
    return Check(
        "feishu webhook",
        "ok",
        "; ".join(steps),
        f"in the console set the request URL to <public address>{WEBHOOK_PATH}",
    )


def _challenge(answer: bytes) -> object:
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
    return parsed.get("challenge") if isinstance(parsed, dict) else None
