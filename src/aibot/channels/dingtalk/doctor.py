"""`ai-bot doctor` for DingTalk: a live access token, and in Stream mode a connection ticket.

DingTalk answers a wrong Client ID and a wrong Client Secret alike (HTTP 400
`invalidClientIdOrSecret`), so the check says which value *looks* wrong: a Client ID is
`ding…` and has no spaces; the usual mistake is pasting the AppId, AgentId or robot code.
"""

from __future__ import annotations

import re

from aibot.channels.dingtalk.client import DingtalkApi
from aibot.channels.dingtalk.connection import SUBSCRIPTIONS, USER_AGENT
from aibot.channels.errors import PlatformError
from aibot.config import DingtalkChannelConfig
from aibot.ops.checks import Check

_CLIENT_ID = re.compile(r"^ding[0-9a-z]{8,40}$")
_SECRET = re.compile(r"^[0-9A-Za-z_\-]{32,128}$")
_CONSOLE = "开发者后台 → 应用开发 → 企业内部应用 → your app → 凭证与基础信息"


def credential_hint(config: DingtalkChannelConfig) -> str:
    """Which of the two values is probably wrong, judged by its shape."""
    client_id, secret = config.client_id, config.client_secret.get_secret_value()
    if not _CLIENT_ID.match(client_id):
        return (
            f"client_id {client_id!r} does not look like a Client ID (ding…): copy "
            f"'Client ID (原 AppKey)' from {_CONSOLE}, not the AppId, AgentId or robot code"
        )
    if not _SECRET.match(secret):
        return (
            f"client_secret does not look like a Client Secret ({len(secret)} characters"
            f"{', with spaces' if secret != secret.strip() else ''}): copy "
            f"'Client Secret (原 AppSecret)' from {_CONSOLE} into DINGTALK_CLIENT_SECRET"
        )
    return (
        f"client_id looks right, so the client_secret is probably wrong or was reset: copy "
        f"'Client Secret (原 AppSecret)' from {_CONSOLE} into DINGTALK_CLIENT_SECRET"
    )


async def dingtalk_checks(config: DingtalkChannelConfig) -> list[Check]:
    api = DingtalkApi(config.client_id, config.client_secret.get_secret_value(), config.api_base)
    try:
        try:
            await api.access_token()
        except PlatformError as exc:
            fix = (
                credential_hint(config)
                if exc.status == 400 or exc.status == 401
                else f"check that {config.api_base} is reachable"
            )
            return [Check("dingtalk", "fail", f"access token refused: {exc}", fix)]
        checks = [
            Check("dingtalk", "ok", f"access token for {config.client_id} ({config.mode} mode)")
        ]
        if config.mode == "stream":
            try:
                await api.open_connection(SUBSCRIPTIONS, USER_AGENT)
            except PlatformError as exc:
                checks.append(
                    Check(
                        "dingtalk stream",
                        "fail",
                        f"no stream connection ticket: {exc}",
                        "in the app's 机器人 page set 消息接收模式 to Stream模式 "
                        "and publish the app (版本管理与发布)"
                        if exc.status in (400, 401, 403)
                        else f"check that {config.api_base} is reachable",
                    )
                )
            else:
                checks.append(Check("dingtalk stream", "ok", "stream connection ticket issued"))
        return checks
    finally:
        await api.close()
