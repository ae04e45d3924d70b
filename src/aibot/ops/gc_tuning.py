"""Garbage-collector settings for a long-running server.

Measured on the target box under load, CPython's default thresholds ran a full (generation 2)
collection every few hundred messages, each walking the whole heap — mostly objects created at
import time that never die — for 100–230 ms while nothing else ran. Freezing the start-up heap
takes those objects out of every later collection; reference counting frees almost everything
a message makes (the collector only exists for cycles), so what a young collection walks is
what survived since the last one: the messages in flight and what the caches took in.

A collection's pause grows with what it walks, so the young threshold bounds the pause: at
50,000 the one collection while the conversation cache filled walked ~21,000–45,000 objects
(16–29 ms of CPU on the loaded box), at 10,000 a young one takes 4–6 ms, one per 1,500–14,000
messages, and every tenth is a generation-1 one (~9 ms). Lower thresholds cost CPU per message
(20 µs at 5,000, 74 µs at 700 against ~2 µs), and the collections free next to nothing either
way: bench/README.md, issue 20 step 11, has the sweep.

What is imported later, when a feature is first used (GraphQL, the pages' templates: see
ARCHITECTURE.md), would otherwise stay in the collected heap for good: Strawberry's schema alone
is ~34,000 objects, which made every full collection after the first /graphql request take
17–60 ms on the loaded 2-core box. Such one-time builds call `settle_after_build` so they are
frozen too.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

YOUNG_THRESHOLD = 10_000


@contextmanager
def no_collections_while_starting() -> Iterator[None]:
    """Around `ai-bot run`: the collector stays off until `tune_for_serving` turns it on.

    Nearly everything a start creates (~1,150 modules, the config, the routes, the store) lives
    as long as the server, so a collection during the start walks a growing heap only to find it
    alive: measured, ~330 collections (three of them full) took ~0.26 s of a 1.4 s start. The
    start's work is bounded (imports, the config, schema DDL), so garbage cannot pile up
    meanwhile, and `tune_for_serving` freezes what it left rather than collecting it. A start
    that fails turns the collector back on when it leaves, for callers that live on (tests).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def tune_for_serving() -> None:
    """Call once the app is fully started, before traffic arrives: freeze the start-up heap and
    turn the collector on with the serving threshold.

    After a start with the collector off (`no_collections_while_starting`) the heap is frozen as
    it is: the garbage such a start leaves was measured at 1,580 objects, ~0.4 MB (the store
    check's disposed engine, its closed connection and finished thread, import-time cycles),
    and the full collection that would free it walked all ~190,000 objects, 80–140 ms of the
    start's CPU. Modules imported later are frozen too, by the first collection after them
    (`_freeze_new_imports`). A host that ran with the collector on (tests starting many apps and
    importing as they go in one process) may hold any amount of garbage, so it is collected
    first there and left to the collector afterwards."""
    if gc.isenabled():
        gc.collect()
    elif _freeze_new_imports not in gc.callbacks:
        gc.callbacks.append(_freeze_new_imports)
    gc.freeze()
    _modules_frozen[0] = len(sys.modules)
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()


# How many modules were loaded at the last freeze
_modules_frozen = [0]


def _freeze_new_imports(phase: str, info: dict[str, Any]) -> None:
    """After a collection, when modules were imported since the last freeze: freeze.

    What an import made while serving — the modules loaded at first use (aiohttp at the first
    outbound call, a platform's client, the token and encryption libraries: ARCHITECTURE.md) —
    lives as long as the process, and was walked by every generation-1 collection after it:
    13,238 objects in generation 1 after an 8,000-message REST bench; at a threshold of 10,000
    that collection took 16.4 ms of CPU on the loaded box, 8.8 ms with them frozen. The
    collection that just ran freed the young garbage; the freeze is a list splice, not a walk."""
    if phase == "stop" and len(sys.modules) != _modules_frozen[0]:
        _modules_frozen[0] = len(sys.modules)
        gc.freeze()


def settle_after_build() -> None:
    """Take what a one-time build made (and everything else alive) out of later collections.

    No collection first: this runs while serving, where a full collection would walk the build
    (~34,000 objects for GraphQL, 13–60 ms) while requests wait, to free next to nothing (24
    objects after the GraphQL schema, none after the pages' templates). What is alive and
    frozen is still freed by reference counting when it dies; only a cycle it later becomes
    part of stays, and the requests in flight at that moment make none (a soak's memory stays
    flat without collections)."""
    gc.freeze()


def build_while_serving(build: Callable[[], object]) -> None:
    """Runs a one-time build made while serving on a thread of its own (the store's SQLAlchemy
    side: store/warm_up.py) with the collector paused, then freezes what it made.

    At the serving threshold the ~100,000 objects of a library's import trigger about ten young
    collections that each walk up to 10,000 of them while requests wait for the GIL, to free
    nothing; the requests answered meanwhile leave what reference counting frees, and the
    collector is back on once the build is done."""
    gc.disable()
    try:
        build()
    finally:
        gc.freeze()
        gc.enable()
