"""`doctor` beside a running gateway: when the port is taken by ai-bot itself, its own `/readyz`
says whether it answers and, if not, why (a rejected key, an unreachable vendor, an open
circuit) — the same words as the page banner and the console."""

from __future__ import annotations

from typing import Any

import aiohttp

from aibot.cli.common import listed, tr
from aibot.config import Config
from aibot.i18n import terminal_language
from aibot.ops.checks import Check


async def running_gateway(config: Config) -> Check | None:
    """The running gateway's readiness as a check, or None when what holds the port is not
    ai-bot (or does not answer in 3 s)."""
    url = f"{config.server.local_url}/readyz"
    headers = {"Accept-Language": terminal_language()}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
            http.get(url, headers=headers) as response,
        ):
            report: Any = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    if not isinstance(report, dict) or "ready" not in report or "version" not in report:
        return None
    name = tr("gateway on port {port}", port=config.server.port)
    if report["ready"]:
        ready = tr("ai-bot {version} is running there and ready", version=report["version"])
        return Check(name, "ok", ready)
    causes = listed(_causes(report), clauses=True)
    return Check(name, "fail", tr("ai-bot is running but not ready: {causes}", causes=causes), url)


def _causes(report: dict[str, Any]) -> list[str]:
    causes: list[str] = []
    for part in ("store", "provider"):
        section = report.get(part)
        if not isinstance(section, dict) or section.get("ok", True):
            continue
        problems = section.get("problems") or [
            section.get("error") or tr("{part} not ready", part=part)
        ]
        causes += [str(p) for p in problems]
    return causes or [tr("see /readyz")]
