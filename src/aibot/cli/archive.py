"""`ai-bot archive` and `ai-bot restore-archive`: old history to the bucket and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from aibot.cli.common import console, fail, load_or_exit, on_store, tr
from aibot.cli.options import ConfigOption
from aibot.i18n import N_

if TYPE_CHECKING:
    from aibot.config import Config
    from aibot.store.archive.archiver import ArchiveReport
    from aibot.store.archive.bucket import Bucket
    from aibot.store.database import Database

T = TypeVar("T")

# What the commands say, in one place (translated where shown).
ARCHIVE_HELP = N_(
    "Move the turns of idle conversations to the archive bucket (safe to stop at any time)."
)
RESTORE_ARCHIVE_HELP = N_("Bring archived turns back into the database, exactly as they were.")
NOT_CONFIGURED = N_(
    "no archive: section in the config: add archive.endpoint, archive.bucket and the "
    "credentials (see README, Archive)"
)
BUSY = N_("another archive run is in progress ({owner}); try again when it has finished")
ARCHIVED = N_(
    "archived {turns} turns of {conversations} conversations into {objects} objects "
    "in {where}{manifest}"
)
NOTHING_IDLE = N_("nothing to archive: no conversation has been idle for {days:g} days")
RESTORED = N_("restored {turns} turns from {objects} archived objects")
NOTHING_ARCHIVED = N_("nothing archived for {what}")
STOPPED = N_("stopped: {error}; what was archived before stays archived, nothing else changed")


def archive(
    config: ConfigOption = None,
    idle_days: Annotated[
        float | None,
        typer.Option(
            min=0,
            help=N_("Archive conversations idle this many days (default: archive.after_days)."),
        ),
    ] = None,
) -> None:
    settings = load_or_exit(config).config
    if settings.archive is None:
        fail(tr(NOT_CONFIGURED))
    console.print(archive_now(settings, idle_days), highlight=False, markup=False)


def archive_now(settings: Config, idle_days: float | None = None) -> str:
    """One archive run (also the first step of `ai-bot maintenance`); its summary line."""
    assert settings.archive is not None
    days = settings.archive.after_days if idle_days is None else idle_days
    report = _with_bucket(settings, lambda engine, bucket: _archive(engine, bucket, days))
    return summary(report, days, settings)


def summary(report: ArchiveReport, days: float, settings: Config) -> str:
    if not report.objects:
        return tr(NOTHING_IDLE, days=days)
    assert settings.archive is not None
    manifest = tr(" (manifest {name})", name=report.manifest) if report.manifest else ""
    return tr(
        ARCHIVED,
        turns=report.turns,
        conversations=report.conversations,
        objects=report.objects,
        where=f"{settings.archive.bucket}/{settings.archive.prefix}",
        manifest=manifest,
    )


async def _archive(engine: Database, bucket: Bucket, days: float) -> ArchiveReport:
    from aibot.store.archive.archiver import Archiver

    return await Archiver(engine, bucket).run(days)


def restore_archive(
    session: Annotated[
        str | None,
        typer.Argument(help=N_("The conversation's session key (as the console shows it).")),
    ] = None,
    config: ConfigOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help=N_("Restore every archived conversation."))
    ] = False,
) -> None:
    from aibot.store.archive.restore import restore

    settings = load_or_exit(config).config
    if settings.archive is None:
        fail(NOT_CONFIGURED)
    if (session is None) == (not everything):
        fail(tr("name one conversation (its session key), or pass --all"))
    report = _with_bucket(settings, lambda engine, bucket: restore(engine, bucket, session))
    if not report.objects:
        console.print(
            tr(NOTHING_ARCHIVED, what=session or tr("any conversation")),
            highlight=False,
            markup=False,
        )
        return
    console.print(
        tr(RESTORED, turns=report.turns, objects=report.objects), highlight=False, markup=False
    )


def _with_bucket(settings: Config, action: Callable[[Database, Bucket], Awaitable[T]]) -> T:
    """Runs `action` on the migrated store and the bucket; every failure is one line."""
    from aibot.store.archive.bucket import ArchiveError, Bucket
    from aibot.store.jobs import JobBusy

    archive = settings.archive
    assert archive is not None
    try:
        return on_store(settings.storage.url, lambda engine: action(engine, Bucket(archive)))
    except JobBusy as busy:
        fail(tr(BUSY, owner=busy.owner), code=1)
    except ArchiveError as exc:
        fail(tr(STOPPED, error=str(exc)), code=1)
