"""`ai-bot canary`: both arms side by side, then promote (live, audited) or roll back."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import AI_BOT, COLUMNS
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.waiting import wait_until


async def ai_bot(gw: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [str(AI_BOT), *args, "-c", str(gw.config_path)],
        cwd=gw.workdir,
        capture_output=True,
        text=True,
        env={**gw.env, "COLUMNS": COLUMNS},
        timeout=60,
    )


def audit(gw: RunningGateway) -> list[tuple[str, str]]:
    path = Path(gw.config["storage"]["url"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        return db.execute("SELECT action, target FROM audit_log ORDER BY id").fetchall()


async def test_status_then_promote_switches_all_traffic_live(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with FakeOpenAI(reply=lambda body: "new model says hi") as new:
        gw = await gateway_factory(
            {
                "models": {
                    "providers": {"new": {"base_url": new.base_url, "api_key": "k", "model": "n"}},
                    "canary": {"provider": "new", "weight": 50},
                }
            }
        )
        text = gw.config_path.read_text(encoding="utf-8")
        gw.config_path.write_text("# our production setup\n" + text, encoding="utf-8")
        gw.config_path.chmod(0o600)  # it may hold secrets
        providers = []
        for i in range(12):
            _, body = await gw.chat("hello", session=f"s{i}")
            providers.append(body["provider"])
            await gw.chat("/good" if body["provider"] == "new" else "/bad", session=f"s{i}")
        assert {"fake", "new"} <= set(providers)

        status = await ai_bot(gw, "canary", "status")
        assert status.returncode == 0, status.stderr
        rows = {
            line.split()[0]: line.split() for line in status.stdout.splitlines() if line.strip()
        }
        old, canary = providers.count("fake"), providers.count("new")
        assert rows["answers"][1:] == [str(old), str(canary)]
        assert rows["👍"][-4:] == ["0.0%", f"(n={old})", "100.0%", f"(n={canary})"]
        assert rows["error"][-4:] == ["0.0%", f"(n={old})", "0.0%", f"(n={canary})"]

        promoted = await ai_bot(gw, "canary", "promote")
        assert promoted.returncode == 0, promoted.stderr
        config = gw.config_path.read_text(encoding="utf-8")
        assert config.startswith("# our production setup") and "canary" not in config
        assert gw.config_path.stat().st_mode & 0o777 == 0o600
        assert "default: new" in config
        assert await wait_until(lambda: "config reloaded" in gw.log(), timeout=10)
        for i in range(12, 18):
            assert (await gw.chat("hello", session=f"s{i}"))[1]["provider"] == "new"
        assert audit(gw)[-1][0] == "canary.promote"
        again = await ai_bot(gw, "canary", "promote")
        assert again.returncode == 1 and "no canary is running" in again.stderr


async def test_rollback_ends_the_split(gateway_factory: GatewayFactory) -> None:
    async with FakeOpenAI() as new:
        gw = await gateway_factory(
            {
                "models": {
                    "providers": {"new": {"base_url": new.base_url, "api_key": "k", "model": "n"}},
                    "canary": {"provider": "new", "weight": 100},
                }
            }
        )
        assert (await gw.chat("hi", session="a"))[1]["provider"] == "new"
        rolled = await ai_bot(gw, "canary", "rollback")
        assert rolled.returncode == 0, rolled.stderr
        assert await wait_until(lambda: "config reloaded" in gw.log(), timeout=10)
        assert (await gw.chat("hi", session="b"))[1]["provider"] == "fake"
        assert audit(gw)[-1] == ("canary.rollback", "new rolled back; fake takes all traffic")
