"""`ai-bot doctor`'s checks of this machine: who can read the secrets, and whether the clock
is right.

Feishu, WeCom and DingTalk sign their callbacks with a timestamp, and our receivers refuse
those outside a window (`signature_max_age`, the WeCom replay window), so a drifting clock
breaks them in a way that looks like a wrong secret; the check says so first.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from aibot.cli.common import tr
from aibot.config import Config, LoadedConfig
from aibot.ops.checks import Check
from aibot.ops.file_modes import open_to_others, sqlite_files
from aibot.store.backup import sqlite_path

MAX_SKEW = 30.0  # seconds: far inside every platform's signature window, so this warns first


def secret_file_checks(loaded: LoadedConfig) -> list[Check]:
    """`.env` files (both places `load_config` reads), and config.yaml when it holds a secret
    as a literal rather than a `${VAR}` reference, must be readable by their owner only."""
    if os.name == "nt":
        return []  # NTFS ACLs, not mode bits; nothing meaningful to read here
    folder = loaded.path.parent if loaded.path else Path()
    files = {path.resolve() for path in (Path(".env"), folder / ".env") if path.is_file()}
    if loaded.path is not None and _has_literal_secret(loaded):
        files.add(loaded.path.resolve())
    return [_owner_only(path) for path in sorted(files)]


def _has_literal_secret(loaded: LoadedConfig) -> bool:
    assert loaded.path is not None
    try:
        raw = loaded.path.read_text(encoding="utf-8")
    except OSError:
        return False
    return any(secret and secret in raw for secret in loaded.config.secrets())


def _owner_only(path: Path) -> Check:
    name = tr("permissions {name}", name=path.name)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        return Check(
            name, "warn", tr("cannot read {path}: {reason}", path=str(path), reason=exc.strerror)
        )
    if mode & 0o077:
        return Check(
            name,
            "warn",
            tr(
                "{path} holds secrets and is mode {mode} (group/others can read it)",
                path=str(path),
                mode=f"{mode:04o}",
            ),
            _chmod("600", path),
        )
    return Check(name, "ok", tr("{path} is mode {mode}", path=str(path), mode=f"{mode:04o}"))


def store_file_checks(config: Config) -> list[Check]:
    """The SQLite store (with its WAL), the log files and `ai-bot backup` files hold
    conversations, password and key hashes and TOTP secrets: a warning for each one group or
    others can read, and for their directories."""
    if os.name == "nt":
        return []
    files: set[Path] = set()
    folders: set[Path] = set()
    database = sqlite_path(config.storage.url) if "memory" not in config.storage.url else None
    if database is not None:
        files.update(sqlite_files(database))
        folders.add(database.parent)
    if config.logging.file:
        log = Path(config.logging.file)
        files.update([log, *log.parent.glob(log.name + ".*")])
        folders.add(log.parent)
    for folder in {Path(), *folders}:
        files.update(folder.glob("ai-bot-backup-*"))
    warnings = [
        _readable(path, mode, "600")
        for path in sorted(files)
        if (mode := open_to_others(path)) is not None
    ]
    warnings += [
        _readable(folder, mode, "700")
        for folder in sorted(folders)
        if folder.resolve() != Path.cwd() and (mode := open_to_others(folder)) is not None
    ]
    if warnings:
        return warnings
    return [
        Check(
            tr("permissions {name}", name=tr("data")),
            "ok",
            tr("store, logs and backups are readable by you only"),
        )
    ]


def _readable(path: Path, mode: int, wanted: str) -> Check:
    return Check(
        tr("permissions {name}", name=path.name or path.resolve().name),
        "warn",
        tr(
            "{path} is mode {mode}: other users on this machine can read conversations, "
            "password hashes and secrets in it",
            path=str(path),
            mode=f"{mode:04o}",
        ),
        _chmod(wanted, path),
    )


def clock_check(skews: dict[str, float]) -> Check:
    """`skews`: per provider, this machine's time minus the provider's Date header."""
    if not skews:
        return Check(
            tr("clock"),
            "warn",
            tr("not compared: no provider answered with a Date header"),
            tr("check `timedatectl` says 'System clock synchronized: yes'"),
        )
    name, skew = max(skews.items(), key=lambda item: abs(item[1]))
    seconds = f"{abs(skew):.0f}"
    detail = (
        tr("{seconds} s ahead of {name}'s server time", seconds=seconds, name=name)
        if skew > 0
        else tr("{seconds} s behind {name}'s server time", seconds=seconds, name=name)
    )
    if abs(skew) > MAX_SKEW:
        return Check(
            tr("clock"),
            "warn",
            tr("{detail}: platform webhook signatures will be refused", detail=detail),
            tr("enable NTP: `timedatectl set-ntp true` (or chrony/ntpd)"),
        )
    return Check(tr("clock"), "ok", detail)


def _chmod(mode: str, path: Path) -> str:
    """The command that fixes it: a command, not words to translate."""
    return f"chmod {mode} {path}"
