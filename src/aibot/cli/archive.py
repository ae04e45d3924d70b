"""`ai-bot archive` and `ai-bot restore-archive`: old history to the bucket and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from aibot.cli.common import ConfigOption, console, fail, load_or_exit, on_store

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from aibot.config import Config
    from aibot.store.archive.archiver import ArchiveReport
    from aibot.store.archive.bucket import Bucket

T = TypeVar("T")

# What the commands say, in one place (for the translation catalog).
NOT_CONFIGURED = (
    "no archive: section in the config: add archive.endpoint, archive.bucket and the "
    "credentials (see README, Archive)"
)
BUSY = "another archive run is in progress ({owner}); try again when it has finished"
ARCHIVED = (
    "archived {turns} turns of {conversations} conversations into {objects} objects "
    "in {where}{manifest}"
)
NOTHING_IDLE = "nothing to archive: no conversation has been idle for {days:g} days"
RESTORED = "restored {turns} turns from {objects} archived objects"
NOTHING_ARCHIVED = "nothing archived for {what}"
STOPPED = "stopped: {error}; what was archived before stays archived, nothing else changed"


def archive(
    config: ConfigOption = None,
    idle_days: Annotated[
        float | None,
        typer.Option(
            min=0, help="Archive conversations idle this many days [default: after_days]."
        ),
    ] = None,
) -> None:
    """Move the turns of idle conversations to the archive bucket (safe to stop at any time)."""
    settings = load_or_exit(config).config
    if settings.archive is None:
        fail(NOT_CONFIGURED)
    console.print(archive_now(settings, idle_days), highlight=False, markup=False)


def archive_now(settings: Config, idle_days: float | None = None) -> str:
    """One archive run (also the first step of `ai-bot maintenance`); its summary line."""
    assert settings.archive is not None
    days = settings.archive.after_days if idle_days is None else idle_days
    report = _with_bucket(settings, lambda engine, bucket: _archive(engine, bucket, days))
    return summary(report, days, settings)


def summary(report: ArchiveReport, days: float, settings: Config) -> str:
    if not report.objects:
        return NOTHING_IDLE.format(days=days)
    assert settings.archive is not None
    return ARCHIVED.format(
        turns=report.turns,
        conversations=report.conversations,
        objects=report.objects,
        where=f"{settings.archive.bucket}/{settings.archive.prefix}",
        manifest=f" (manifest {report.manifest})" if report.manifest else "",
    )


async def _archive(engine: AsyncEngine, bucket: Bucket, days: float) -> ArchiveReport:
    from aibot.store.archive.archiver import Archiver

    return await Archiver(engine, bucket).run(days)


def restore_archive(
    session: Annotated[
        str | None,
        typer.Argument(help="The conversation's session key (as the console shows it)."),
    ] = None,
    config: ConfigOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Restore every archived conversation.")
    ] = False,
) -> None:
    """Bring archived turns back into the database, exactly as they were."""
    from aibot.store.archive.restore import restore

    settings = load_or_exit(config).config
    if settings.archive is None:
        fail(NOT_CONFIGURED)
    if (session is None) == (not everything):
        fail("name one conversation (its session key), or pass --all")
    report = _with_bucket(settings, lambda engine, bucket: restore(engine, bucket, session))
    if not report.objects:
        console.print(
            NOTHING_ARCHIVED.format(what=session or "any conversation"),
            highlight=False,
            markup=False,
        )
        return
    console.print(
        RESTORED.format(turns=report.turns, objects=report.objects), highlight=False, markup=False
    )


def _with_bucket(settings: Config, action: Callable[[AsyncEngine, Bucket], Awaitable[T]]) -> T:
    """Runs `action` on the migrated store and the bucket; every failure is one line."""
    from aibot.store.archive.bucket import ArchiveError, Bucket
    from aibot.store.jobs import JobBusy

    archive = settings.archive
    assert archive is not None
    try:
        return on_store(settings.storage.url, lambda engine: action(engine, Bucket(archive)))
    except JobBusy as busy:
        fail(BUSY.format(owner=busy.owner), code=1)
    except ArchiveError as exc:
        fail(STOPPED.format(error=exc), code=1)
