"""`ai-bot doctor` for DingTalk: a live access token, and in Stream mode a connection ticket.

DingTalk answers a wrong Client ID and a wrong Client Secret alike (HTTP 400
`invalidClientIdOrSecret`), so the check says which value *looks* wrong: a Client ID is
`ding…` and has no spaces; the usual mistake is pasting the AppId, AgentId or robot code.
The rows are in the reader's language; the console's menu names stay DingTalk's own (Chinese).
"""

from __future__ import annotations

import re

from aibot.channels.dingtalk.client import DingtalkApi
from aibot.channels.dingtalk.connection import SUBSCRIPTIONS, USER_AGENT
from aibot.channels.errors import PlatformError
from aibot.config import DingtalkChannelConfig
from aibot.i18n import N_, translate
from aibot.ops.checks import Check

_CLIENT_ID = re.compile(r"^ding[0-9a-z]{8,40}$")
_SECRET = re.compile(r"^[0-9A-Za-z_\-]{32,128}$")
_CONSOLE = N_("开发者后台 → 应用开发 → 企业内部应用 → your app → 凭证与基础信息")
_SECRET_SHAPE = N_(
    "client_secret does not look like a Client Secret ({length} characters): copy "
    "'Client Secret (原 AppSecret)' from {console} into DINGTALK_CLIENT_SECRET"
)
_SECRET_SPACES = N_(
    "client_secret does not look like a Client Secret ({length} characters, with spaces): "
    "copy 'Client Secret (原 AppSecret)' from {console} into DINGTALK_CLIENT_SECRET"
)


def credential_hint(config: DingtalkChannelConfig, language: str) -> str:
    """Which of the two values is probably wrong, judged by its shape."""
    client_id, secret = config.client_id, config.client_secret.get_secret_value()
    console = translate(language, _CONSOLE)
    if not _CLIENT_ID.match(client_id):
        return translate(
            language,
            "client_id {client_id} does not look like a Client ID (ding…): copy "
            "'Client ID (原 AppKey)' from {console}, not the AppId, AgentId or robot code",
            client_id=repr(client_id),
            console=console,
        )
    if not _SECRET.match(secret):
        shape = _SECRET_SPACES if secret != secret.strip() else _SECRET_SHAPE
        return translate(language, shape, length=len(secret), console=console)
    return translate(
        language,
        "client_id looks right, so the client_secret is probably wrong or was reset: copy "
        "'Client Secret (原 AppSecret)' from {console} into DINGTALK_CLIENT_SECRET",
        console=console,
    )


async def dingtalk_checks(config: DingtalkChannelConfig, language: str) -> list[Check]:
    api = DingtalkApi(config.client_id, config.client_secret.get_secret_value(), config.api_base)
    reachable = translate(language, "check that {url} is reachable", url=config.api_base)
    try:
        try:
            await api.access_token()
        except PlatformError as exc:
            refused = exc.status == 400 or exc.status == 401
            fix = credential_hint(config, language) if refused else reachable
            detail = translate(language, "access token refused: {error}", error=str(exc))
            return [Check(translate(language, "dingtalk"), "fail", detail, fix)]
        issued = translate(
            language,
            "access token for {client_id} ({mode} mode)",
            client_id=config.client_id,
            mode=config.mode,
        )
        checks = [Check(translate(language, "dingtalk"), "ok", issued)]
        if config.mode == "stream":
            checks.append(await _stream_ticket(api, language, reachable))
        return checks
    finally:
        await api.close()


async def _stream_ticket(api: DingtalkApi, language: str, reachable: str) -> Check:
    """Stream mode needs the app set to Stream and published; a ticket proves both."""
    name = translate(language, "dingtalk stream")
    try:
        await api.open_connection(SUBSCRIPTIONS, USER_AGENT)
    except PlatformError as exc:
        fix = (
            translate(
                language,
                "in the app's 机器人 page set 消息接收模式 to Stream模式 "
                "and publish the app (版本管理与发布)",
            )
            if exc.status in (400, 401, 403)
            else reachable
        )
        detail = translate(language, "no stream connection ticket: {error}", error=str(exc))
        return Check(name, "fail", detail, fix)
    return Check(name, "ok", translate(language, "stream connection ticket issued"))
