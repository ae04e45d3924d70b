"""Config reload without a restart: on SIGHUP and whenever config.yaml or a word list changes.

This is config's side of a reload: the new file is read and validated, then handed to the
`apply` the gateway gave, which builds what it needs from it (the policies) and swaps it in; a
`ConfigError` from either step is logged as one clear line and the running config stays. What
can change live: `policy`, `routes`, `models.default`, `models.fallbacks` and `models.canary`.
Other sections (ports, storage, channels, providers) are reported as needing a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeAlias

import structlog
import watchfiles

from aibot.config.base import ConfigError
from aibot.config.loading import LoadedConfig, load_config
from aibot.config.schema import Config

log = structlog.get_logger("aibot.reload")

LIVE_SECTIONS = frozenset({"policy", "routes"})
_LIVE_MODEL_KEYS = frozenset({"default", "fallbacks", "canary"})


def needs_restart(old: Config, new: Config) -> list[str]:
    """The changed sections (or models keys) that only a restart applies."""
    changed = [
        name
        for name in Config.model_fields
        if name not in LIVE_SECTIONS
        and name != "models"
        and getattr(old, name) != getattr(new, name)
    ]
    changed += [
        f"models.{name}"
        for name in type(old.models).model_fields
        if name not in _LIVE_MODEL_KEYS and getattr(old.models, name) != getattr(new.models, name)
    ]
    return changed


# Makes a validated config live, or raises ConfigError to refuse it; called one at a time.
Apply = Callable[[LoadedConfig, str], Awaitable[None]]


class ConfigReloader:
    """`also_watch()` names more files whose change reloads (the live word lists)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        apply: Apply,
        also_watch: Callable[[], Iterable[Path]] = tuple,
    ) -> None:
        self.loaded = loaded
        self._apply = apply
        self._also_watch = also_watch
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._signalled: set[asyncio.Task[bool]] = set()
        # A thread's event: the watch's own thread reads it (see `_change`).
        self._stop = threading.Event()
        self._thread: ThreadPoolExecutor | None = None
        # Why the last reload was refused, for callers that show it in their reader's language
        # (the admin console: `last_refusal.say(language)`); None after a reload that worked.
        self.last_refusal: ConfigError | None = None

    def listen_for_sighup(self) -> None:
        """`kill -HUP <pid>` (or `systemctl reload ai-bot`) reloads; only the main thread's
        loop can take signals, so embedded uses (tests, other hosts) simply go without."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self) -> None:
        task = asyncio.create_task(self.reload("SIGHUP"))
        self._signalled.add(task)
        task.add_done_callback(self._signalled.discard)

    async def reload(self, reason: str) -> bool:
        """True when the new config is live; False leaves the running one in place."""
        if self.loaded.path is None:
            log.warning("nothing to reload: running on defaults without a config file")
            return False
        async with self._lock:
            try:
                loaded = await asyncio.to_thread(load_config, self.loaded.path)
                await self._apply(loaded, reason)
            except ConfigError as exc:
                self.last_refusal = exc
                log.error(
                    "config reload rejected; the running config stays",
                    reason=reason,
                    problems=str(exc).replace("\n", "; "),
                )
                return False
            restart = needs_restart(self.loaded.config, loaded.config)
            self.loaded, self.last_refusal = loaded, None
            if restart:
                log.warning("some changes apply only after a restart", sections=restart)
            return True

    # -- watching ---------------------------------------------------------------------------
    def start_watching(self) -> None:
        if self.loaded.path is not None:
            # the files as the running config was read, near enough: a save from now on reloads
            read = _identities(self._watched())
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="config-watch")
            self._watcher = asyncio.create_task(self._watch(read), name="config-watch")

    async def stop_watching(self) -> None:
        self._stop.set()  # the thread's wait returns within watchfiles' 50 ms step
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._thread is not None:
            self._thread.shutdown(wait=False)

    def _watched(self) -> set[Path]:
        files = {self.loaded.path, *self._also_watch()}
        return {path.resolve() for path in files if path is not None}

    async def _watch(self, read: dict[Path, Identity]) -> None:
        """Watches the files themselves, not their folders: a database or a log written beside
        config.yaml would wake a folder's watch with each write. An editor's save renames a new
        file over the old one and the watch stays on the old, so it is set again after each
        change; a save made while it was not set is found by the files' identities."""
        while not self._stop.is_set():
            files = self._watched()
            if not _changed(files, read) and not await self._change(files, read):
                return  # stopped
            read = _identities(files)  # before the reload reads them: a later save differs
            await self.reload("file changed")
            read |= {path: _identity(path) for path in self._watched() - read.keys()}

    async def _change(self, files: set[Path], read: dict[Path, Identity]) -> bool:
        """Waits for a change to one of `files` (as `read`); False when stopped. A file missing
        for the moment (an editor that deletes, then writes) is waited for in its folder. The
        wait blocks in the reloader's own thread on watchfiles' `watch` (the system's file
        notifications), as `awatch` would in a worker thread of anyio's: `awatch` also loads
        anyio's asyncio backend (~15 ms of CPU) while the gateway starts, which nothing else
        that serves `/healthz` or a message needs."""
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            places = {path if path.exists() else path.parent for path in files}
            places = {place for place in places if place.exists()}
            if not places:  # even the folders are gone: look again in a second
                await asyncio.sleep(1)
                if any(path.exists() for path in files):
                    return True
                continue
            try:
                return await loop.run_in_executor(
                    self._thread, _next_change, places, files, read, self._stop
                )
            except FileNotFoundError:  # gone between the look and the watch: look again
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                self._stop.set()  # or the thread would go on waiting for a change
                raise
        return False


def _next_change(
    places: set[Path], files: set[Path], read: dict[Path, Identity], stop: threading.Event
) -> bool:
    """Blocks until one of `files` changes (True) or `stop` is set (False). The watch is set
    here, a moment after the caller compared the files with `read`: a save in that moment is
    no notification, so they are compared again whenever the watch has been quiet for a
    second (a stat per file; watchfiles takes the GIL every 50 ms anyway, for `stop`)."""
    changes = watchfiles.watch(
        *places,
        stop_event=stop,
        debounce=300,
        recursive=False,
        watch_filter=_only(files),
        rust_timeout=1000,
        yield_on_timeout=True,
        raise_interrupt=False,
    )
    with contextlib.closing(changes):
        return any(found or _changed(files, read) for found in changes)


Identity: TypeAlias = tuple[int, int, int] | None


def _identity(path: Path) -> Identity:
    """What changes when the file does: a rename over it, a write (size, modification time)."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


def _identities(files: set[Path]) -> dict[Path, Identity]:
    return {path: _identity(path) for path in files}


def _changed(files: set[Path], read: dict[Path, Identity]) -> bool:
    """Whether any of `files` is not as `read` (a file not read at all counts as changed)."""
    return not _identities(files).items() <= read.items()


def _only(files: set[Path]) -> Callable[[watchfiles.Change, str], bool]:
    """A watch filter for just these files, for the folder of one missing for the moment."""
    return lambda _change, path: Path(path) in files
