"""The official openai-node SDK (6.x) as an oracle of /v1: a plain answer, a stream with usage,
`runTools()` running a tool in a loop, and `NotFoundError` for an unknown model — first against
the OpenAI fake directly, then through the gateway, with the same output.

The script and its locked dependency live in tests/node_oracle/; `npm ci` installs it there
the first time (from the npm registry).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.gateway import API_KEY, PROVIDER_KEY
from tests.support.v1_rig import V1Rig, v1_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")
ORACLE = Path(__file__).resolve().parents[1] / "node_oracle"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[V1Rig]:
    async with v1_rig(tmp_path_factory.mktemp("v1-node")) as running:
        yield running


async def run(*command: str, timeout: float = 180) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ORACLE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


async def node_sees(base_url: str, key: str) -> dict[str, Any]:
    if not (ORACLE / "node_modules" / "openai").exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm (Node.js 20) is needed for the openai-node oracle"
        await run(npm, "ci", "--no-audit", "--no-fund")
    node = shutil.which("node")
    assert node is not None, "Node.js 20 is needed for the openai-node oracle"
    result: dict[str, Any] = json.loads(
        await run(node, "v1.mjs", base_url, key, "fake-model", timeout=60)
    )
    return result


async def test_openai_node_sees_the_gateway_as_the_vendor(rig: V1Rig) -> None:
    alone = await node_sees(rig.fake.base_url, PROVIDER_KEY)
    through = await node_sees(f"{rig.gw.url}/v1", API_KEY)
    assert alone == through
    assert alone["plain"] == ["echo: Paris", "stop"]
    assert alone["stream"] == ["echo: Paris", True]
    assert alone["runTools"] == [[{"city": "Paris"}], "echo: Paris"]
    assert alone["unknownModel"] == ["NotFoundError", 404, "model_not_found"]
