"""GC pauses (issue 20): what lives long stays out of the collector's walk.

A full collection walks every tracked object that is not frozen, so its pause grows with them.
The gateway freezes its start-up heap when it starts serving; the features imported on first
use (GraphQL, the chat page's and the console's templates) freeze what they built too. Checked
by counting the objects a full collection would walk after those first uses, in a fresh
interpreter: a count, not a time, so it holds on a loaded machine.

The start itself runs with the collector off (`ai-bot run` builds a heap that lives as long as
the server) and its heap is frozen as it is, garbage included (~0.4 MB): a full collection there
cost 80–140 ms of the start's CPU. Checked by counting the collections `ai-bot run` makes until
it serves (none), and `ops/gc_tuning` on its own: the threshold it serves with, what it freezes,
that a feature built while serving is frozen without a collection (the requests would wait), and
that what a module imported while serving made is frozen by the next collection.

What serving keeps for good stays out too: the conversation cache's turns are dicts the
collector does not track. Checked by counting what a full cache adds to a collection's walk.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

from aibot.config import SessionConfig
from aibot.core.messages import Inbound, TurnRecord
from aibot.core.pipeline import TurnContext
from aibot.core.sessions import SessionMemory, SessionStore
from aibot.core.stages import ContextStage
from aibot.ops.gc_tuning import YOUNG_THRESHOLD, settle_after_build, tune_for_serving
from tests.support.probes import probe, serve_once

PROBE = """
import asyncio, gc, json
from aibot.channels.webchat.page import render
from aibot.cli.common import load_or_exit
from aibot.gateway.asgi import create_app

app = create_app(load_or_exit(None))

async def first_uses():
    async with app.lifespan():
        frozen_at_start = gc.get_freeze_count()
        full = app.full  # the routes, built by the first request that needs them
        graphql = next(r.endpoint for r in full.routes if getattr(r, "path", "") == "/graphql")
        graphql.build()
        render("en")
        full.state.admin_console.templates.get_template("login.html")
        gc.collect()
        walked = len(gc.get_objects())
        print("counts", json.dumps({"frozen_at_start": frozen_at_start, "walked": walked}))

asyncio.run(first_uses())
"""


def test_a_full_collection_after_the_first_uses_walks_almost_nothing(tmp_path: Path) -> None:
    result = probe(PROBE, tmp_path)
    line = next(x for x in result.stdout.splitlines() if x.startswith("counts "))
    counts = json.loads(line.removeprefix("counts "))
    assert counts["frozen_at_start"] > 50_000  # the start-up heap
    # Strawberry's schema alone is ~34,000 objects, the chat page's Jinja ~6,000.
    assert counts["walked"] < 2_000, counts


# `ai-bot run` in this interpreter, with every collection before the start-up freeze counted
# from when the serve module starts loading (the command's own work; the CLI's module itself is
# imported before any command runs). A thread stops it once /healthz answers.
COUNTING = """
import gc

start_up = []

def count(phase, info):
    if phase == "start" and gc.get_freeze_count() == 0 and "aibot.cli.common" in sys.modules:
        start_up.append(info["generation"])

gc.callbacks.append(count)
"""


def test_ai_bot_run_does_not_collect_while_starting(tmp_path: Path) -> None:
    line = serve_once(tmp_path, COUNTING, 'print("collections", len(start_up))')
    # 209 before the collector was off while starting, then 1: the full one before the freeze;
    # counted from the command line's first module (cli/common), ~100 while they loaded.
    assert int(line.removeprefix("collections ")) == 0, line


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the collections that run meanwhile; the collector's settings, its
    frozen objects and whether it is on are put back afterwards."""
    ran: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            ran.append(info["generation"])

    threshold, enabled, callbacks = gc.get_threshold(), gc.isenabled(), list(gc.callbacks)
    gc.callbacks.append(count)
    try:
        yield ran
    finally:
        gc.callbacks[:] = callbacks
        gc.unfreeze()
        gc.set_threshold(*threshold)
        (gc.enable if enabled else gc.disable)()


class Cycle:
    """Garbage only a collection frees."""

    def __init__(self) -> None:
        self.me = self


def test_after_a_start_with_the_collector_off_serving_freezes_without_collecting(
    collections: list[int],
) -> None:
    gc.disable()  # as no_collections_while_starting leaves it
    Cycle()
    tune_for_serving()
    assert collections == []
    assert gc.get_freeze_count() > 0 and gc.get_count()[0] == 0  # frozen: nothing young
    assert gc.isenabled() and gc.get_threshold()[0] == YOUNG_THRESHOLD


def test_a_host_that_kept_the_collector_on_is_collected_before_the_freeze(
    collections: list[int],
) -> None:
    tune_for_serving()
    assert collections == [2]
    assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == YOUNG_THRESHOLD
    frozen = gc.get_freeze_count()
    sys.modules["tests.unit.imported_by_the_host"] = ModuleType("imported_by_the_host")
    try:
        gc.collect(0)  # the host's own imports are left to the collector, not frozen
        assert gc.get_freeze_count() == frozen
    finally:
        del sys.modules["tests.unit.imported_by_the_host"]


def test_a_build_while_serving_is_frozen_without_a_collection(collections: list[int]) -> None:
    gc.disable()  # no collection of its own meanwhile: only one settle_after_build would run
    built = [Cycle() for _ in range(1_000)]  # what a lazy build keeps for good
    frozen = gc.get_freeze_count()
    settle_after_build()
    assert collections == []
    assert gc.get_freeze_count() >= frozen + len(built)


class EmptyStore:
    """Just enough of the store for the session memory: every conversation is new."""

    async def load_session(self, session_key: str, keep: int) -> tuple[None, list[TurnRecord]]:
        return None, []


async def test_a_full_conversation_cache_adds_almost_nothing_to_a_collection() -> None:
    """The conversation cache, full, adds two tracked objects per conversation (its state and
    the list of turns), not two per turn: the turns are dicts of strings and numbers, which
    the collector never tracks. Counted in this process between two full collections, with
    everything alive before frozen, so the count is what the cache added."""
    conversations, max_turns = 100, 5
    memory = SessionMemory(
        cast(SessionStore, EmptyStore()), max_turns=max_turns, cache_size=conversations
    )
    stage = ContextStage(SessionConfig(max_turns=max_turns, idle_reset=None))
    gc.collect()
    gc.freeze()
    try:
        before = len(gc.get_objects())
        for n in range(conversations * max_turns * 2):  # each conversation fills its memory
            state = await memory.get(f"s{n % conversations}")
            inbound = Inbound("test", state.key, "u", f"q{n}", f"r{n}", float(n))
            await stage(TurnContext(inbound, float(n), session=state))  # builds the history
            memory.remember(
                state,
                [
                    TurnRecord("user", f"q{n}", float(n), request_id=f"r{n}"),
                    TurnRecord("assistant", f"a{n}", n + 0.5, provider="p", request_id=f"r{n}"),
                ],
            )
        gc.collect()
        added = len(gc.get_objects()) - before
    finally:
        gc.unfreeze()
    assert sum(len(s.turns) for s in memory._cache.values()) == conversations * max_turns * 2
    # A TurnRecord and its Message per turn added 2,002 here; the dicts add 202.
    assert added < conversations * 3, added


def test_what_an_import_while_serving_made_is_frozen_at_the_next_collection(
    collections: list[int],
) -> None:
    """A module imported at first use lives as long as the process: the collection after it
    freezes what survived, so later collections do not walk it again."""
    gc.disable()
    tune_for_serving()
    gc.disable()  # only the collections below
    gc.collect(0)  # no import since the freeze: nothing frozen
    frozen = gc.get_freeze_count()
    kept = [Cycle() for _ in range(1_000)]
    assert gc.get_freeze_count() == frozen
    sys.modules["tests.unit.imported_while_serving"] = ModuleType("imported_while_serving")
    try:
        gc.collect(0)
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert collections == [0, 0]  # young collections only: the freeze walks nothing
    finally:
        del sys.modules["tests.unit.imported_while_serving"]
