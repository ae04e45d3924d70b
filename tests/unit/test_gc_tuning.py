"""GC pauses (issue 20): what lives as long as the process stays out of the collector's walk.

A full collection walks every tracked object that is not frozen, so its pause grows with them.
The gateway freezes its start-up heap when it starts serving; the features imported on first
use (GraphQL, the chat page's and the console's templates) freeze what they built too. Checked
by counting the objects a full collection would walk after those first uses, in a fresh
interpreter: a count, not a time, so it holds on a loaded machine.

The start itself runs with the collector off (`ai-bot run` builds a heap that lives as long as
the server); the one full collection before the freeze frees its garbage. Checked by counting
the collections `ai-bot run` makes until it serves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.gateway import gateway_env
from tests.support.net import free_port

PROBE = """
import asyncio, gc, json
from aibot.channels.webchat.page import render
from aibot.cli.common import load_or_exit
from aibot.gateway.asgi import create_app

app = create_app(load_or_exit(None))
graphql = next(r.endpoint for r in app.router.routes if getattr(r, "path", "") == "/graphql")

async def first_uses():
    async with app.router.lifespan_context(app):
        frozen_at_start = gc.get_freeze_count()
        graphql.build()
        render("en")
        app.state.admin_console.templates.get_template("login.html")
        gc.collect()
        walked = len(gc.get_objects())
        print("counts", json.dumps({"frozen_at_start": frozen_at_start, "walked": walked}))

asyncio.run(first_uses())
"""


def test_a_full_collection_after_the_first_uses_walks_almost_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=gateway_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("counts "))
    counts = json.loads(line.removeprefix("counts "))
    assert counts["frozen_at_start"] > 50_000  # the start-up heap
    # Strawberry's schema alone is ~34,000 objects, the chat page's Jinja ~6,000.
    assert counts["walked"] < 2_000, counts


# `ai-bot run` in this interpreter, with every collection before the start-up freeze counted
# from when the serve module starts loading (the command's own work; the CLI's module itself is
# imported before any command runs). A thread stops it once /healthz answers.
START_PROBE = """
import gc, os, signal, sys, threading, time, urllib.request

start_up = []

def count(phase, info):
    if phase == "start" and gc.get_freeze_count() == 0 and "aibot.cli.serve" in sys.modules:
        start_up.append(info["generation"])

def stop_when_healthy(url):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    print("collections", len(start_up), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

gc.callbacks.append(count)
threading.Thread(target=stop_when_healthy, args=(sys.argv[2],), daemon=True).start()
sys.argv = ["ai-bot", "run", "-c", sys.argv[1]]
from aibot.cli.main import main
main()
"""


def test_ai_bot_run_collects_once_while_starting(tmp_path: Path) -> None:
    port = free_port()
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": {"url": f"sqlite:///{tmp_path / 'ai-bot.db'}"},
        "logging": {"level": "warning"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", START_PROBE, "config.yaml", f"http://127.0.0.1:{port}/healthz"],
        cwd=tmp_path,
        env=gateway_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("collections "))
    # The full collection before the freeze (settle_after_build); 209 before the pause.
    assert int(line.removeprefix("collections ")) == 1, line
