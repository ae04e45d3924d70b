"""The config watch reacts to config.yaml and the word lists it names, and to nothing else: a
database or a log file written beside them does not even wake it (each wake-up is a thread hop
and a filter over the folder's changes). An editor's save, in place or as a new file renamed
over the old one, reloads — every time, though each rename leaves the watch on the old file."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from aibot.config import LoadedConfig, load_config
from aibot.config.watch import ConfigReloader
from tests.support.waiting import wait_until


class Watched:
    """A reloader watching `config.yaml` (and `words.txt` beside it), counting its reloads."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "config.yaml"
        self.words = folder / "words.txt"
        self.words.write_text("alpha\n", encoding="utf-8")
        save(self.path, "key-0000000000")
        self.applied: list[LoadedConfig] = []
        self.attempts = 0
        self.reloader = ConfigReloader(load_config(self.path), self._apply, lambda: [self.words])
        reload = self.reloader.reload

        async def counted(reason: str) -> bool:
            self.attempts += 1
            return await reload(reason)

        self.reloader.reload = counted  # type: ignore[method-assign]

    async def _apply(self, loaded: LoadedConfig, _reason: str) -> None:
        self.applied.append(loaded)

    def key(self) -> str:
        return self.applied[-1].config.channels.api.keys[0].get_secret_value()


def save(path: Path, key: str) -> None:
    """As editors save: a new file beside the old, renamed over it."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(yaml.safe_dump({"channels": {"api": {"keys": [key]}}}), "utf-8")
    temporary.replace(path)


async def applied(watched: Watched, count: int) -> bool:
    return await wait_until(lambda: len(watched.applied) == count, 10)


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[Watched]:
    watched = Watched(tmp_path)
    watched.reloader.start_watching()
    await asyncio.sleep(0.5)  # the watch is set
    yield watched
    await watched.reloader.stop_watching()


async def test_files_written_beside_the_config_do_not_wake_the_watcher(
    watched: Watched, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="watchfiles")
    folder = watched.path.parent
    for line in range(5):
        (folder / "store.db").write_bytes(os.urandom(64))
        with (folder / "ai-bot.log").open("a") as log:
            log.write(f"line {line}\n")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    assert watched.attempts == 0
    assert "changes filtered out" not in caplog.text  # watchfiles woke and found nothing
    save(watched.path, "key-1111111111")
    assert await wait_until(lambda: watched.attempts == 1 and bool(watched.applied), 10)
    assert watched.key() == "key-1111111111"


async def test_every_save_reloads(watched: Watched) -> None:
    for n in range(1, 4):
        save(watched.path, f"key-{n}" * 3)
        assert await applied(watched, n), n
        assert watched.key() == f"key-{n}" * 3
    watched.path.write_text(yaml.safe_dump({"channels": {"api": {"keys": ["in-place-key"]}}}))
    assert await applied(watched, 4)
    assert watched.key() == "in-place-key"


async def test_a_saved_word_list_reloads(watched: Watched) -> None:
    temporary = watched.words.with_name(".words.txt.swp")
    for n in range(1, 3):
        temporary.write_text(f"alpha\nword{n}\n", encoding="utf-8")
        temporary.replace(watched.words)
        assert await applied(watched, n), n


async def test_a_save_while_a_reload_runs_is_not_missed(watched: Watched) -> None:
    """The watch is not set while a reload runs: a save then is found by the file's identity."""
    apply = watched.reloader._apply

    async def save_meanwhile(loaded: LoadedConfig, reason: str) -> None:
        if not watched.applied:
            save(watched.path, "key-saved-meanwhile")
        await apply(loaded, reason)

    watched.reloader._apply = save_meanwhile
    save(watched.path, "key-first-save")
    assert await applied(watched, 2)
    assert watched.key() == "key-saved-meanwhile"
