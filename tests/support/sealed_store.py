"""A gateway with encryption at rest, as the encryption and archive tests run it: two data keys,
words that must never be readable on disk, and the CLI run against the gateway's own config."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

from aibot.store.crypto import key_id
from tests.support.cli import AI_BOT
from tests.support.gateway import RunningGateway

SECRET_WORDS = ("Zebra-Quartz-4417", "机密的会议纪要")  # ASCII and Chinese, both must vanish
KEY_A = base64.b64encode(os.urandom(32)).decode()
KEY_B = base64.b64encode(os.urandom(32)).decode()


def key_name(key: str) -> str:
    return key_id(base64.b64decode(key))


async def ai_bot(gw: RunningGateway, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        *args,
        "-c",
        str(gw.config_path),
        cwd=gw.workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**gw.env, "COLUMNS": "1000"},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def sealed(key: str) -> dict[str, Any]:
    return {"storage": {"encryption": {"key": key}}}
