"""GC pauses (issue 20): what lives as long as the process stays out of the collector's walk.

A full collection walks every tracked object that is not frozen, so its pause grows with them.
The gateway freezes its start-up heap when it starts serving; the features imported on first
use (GraphQL, the chat page's and the console's templates) freeze what they built too. Checked
by counting the objects a full collection would walk after those first uses, in a fresh
interpreter: a count, not a time, so it holds on a loaded machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.gateway import gateway_env

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
