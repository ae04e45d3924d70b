"""`ai-bot doctor` for Feishu: live credentials, then (webhook mode) the gateway's own URL.

The credential check fetches a tenant_access_token and names the value that is wrong. With the
gateway running locally, a correctly encrypted and signed URL challenge is POSTed to its
`/feishu/webhook`, exactly as Feishu's console does, and each step is reported. The rows are in
the reader's language; Feishu's own error text stays as it came.
"""

from __future__ import annotations

import importlib.util
import secrets

import aiohttp
import orjson

from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.errors import PlatformError
from aibot.channels.feishu.client import FeishuApi
from aibot.channels.feishu.verify import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    encrypt,
    signature,
)
from aibot.channels.feishu.webhook import WEBHOOK_PATH
from aibot.config import FeishuChannelConfig, ServerConfig
from aibot.i18n import join_list, translate
from aibot.ops.checks import Check

# What the token endpoint answers for a wrong app_id / app_secret [PROTOCOLS.md: unverified].
BAD_APP_ID = {10003, 10002}
BAD_APP_SECRET = {10014}


async def feishu_checks(
    config: FeishuChannelConfig, server: ServerConfig, language: str, clock: Clock = SYSTEM_CLOCK
) -> list[Check]:
    checks = [await _credentials(config, language)]
    if config.mode == "websocket":
        checks.append(_long_connection(language))
    elif checks[0].status == "ok":
        checks.append(await webhook_self_test(config, server, language, clock))
    return checks


def _long_connection(language: str) -> Check:
    name = translate(language, "feishu long connection")
    if importlib.util.find_spec("lark_oapi"):
        return Check(name, "ok", translate(language, "lark-oapi installed"))
    return Check(
        name,
        "fail",
        translate(language, "lark-oapi is not installed"),
        translate(language, "install it: pip install 'ai-bot[feishu-ws]'"),
    )


async def _credentials(config: FeishuChannelConfig, language: str) -> Check:
    api = FeishuApi(config.app_id, config.app_secret.get_secret_value(), config.base_url)
    try:
        await api.tenant_token()
        bot = await api.bot_info()
    except PlatformError as exc:
        if exc.code in BAD_APP_ID:
            fix = translate(
                language,
                "channels.feishu.app_id is wrong: copy the App ID (cli_…) from the console",
            )
        elif exc.code in BAD_APP_SECRET:
            fix = translate(
                language, "channels.feishu.app_secret is wrong: copy the App Secret again"
            )
        elif exc.code is None:
            fix = translate(
                language,
                "check that {url} is reachable (or channels.feishu.domain)",
                url=config.base_url,
            )
        else:
            fix = translate(
                language,
                "enable the bot ability (Features → Bot) and publish a version of the app",
            )
        detail = translate(language, "credentials refused: {error}", error=str(exc))
        return Check(translate(language, "feishu"), "fail", detail, fix)
    finally:
        await api.close()
    detail = translate(
        language,
        "app {app}, bot open_id {open_id} ({mode} mode)",
        app=bot.get("app_name", "?"),
        open_id=bot.get("open_id", "?"),
        mode=config.mode,
    )
    return Check(translate(language, "feishu"), "ok", detail)


async def webhook_self_test(
    config: FeishuChannelConfig,
    server: ServerConfig,
    language: str,
    clock: Clock = SYSTEM_CLOCK,
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
    name = translate(language, "feishu webhook")
    steps = [
        translate(language, "encrypted + signed")
        if key
        else translate(language, "plain (no encrypt_key)")
    ]
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
            name,
            "warn",
            translate(language, "gateway not running at {url}", url=url),
            translate(
                language, "start `ai-bot run`, then run `ai-bot doctor` again to test the webhook"
            ),
        )
    steps.append(f"POST {WEBHOOK_PATH} → HTTP {status}")
    if status == 404:
        return Check(
            name,
            "fail",
            join_list(language, steps, clauses=True),
            translate(
                language, "the running gateway has no Feishu webhook: restart it with this config"
            ),
        )
    if status != 200:
        return Check(
            name,
            "fail",
            join_list(language, steps, clauses=True),
            translate(
                language,
                "the running gateway uses other encrypt_key / verification_token values; "
                "restart it with this config",
            ),
        )
    if _challenge(answer) != challenge:
        steps.append(translate(language, "challenge NOT echoed"))
        return Check(
            name,
            "fail",
            join_list(language, steps, clauses=True),
            translate(language, "see the gateway log"),
        )
    steps.append(translate(language, "challenge echoed"))
    return Check(
        name,
        "ok",
        join_list(language, steps, clauses=True),
        translate(
            language,
            "in the console set the request URL to <public address>{path}",
            path=WEBHOOK_PATH,
        ),
    )


def _challenge(answer: bytes) -> object:
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
    return parsed.get("challenge") if isinstance(parsed, dict) else None
