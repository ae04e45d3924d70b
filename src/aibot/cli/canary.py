"""`ai-bot canary`: compare the two arms of `models.canary`, then promote or roll it back.

`status` puts the default and the canary side by side (answers, 👍 share, errors, latency,
tokens) with their sample sizes. `promote` makes the canary the default and ends the split;
`rollback` ends the split. Both edit config.yaml in place, keeping its comments, so the running
gateway applies the change through its config watch; both are written to the audit log.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from aibot.cli.common import console, fail, load_or_exit, on_store, tr
from aibot.cli.options import ConfigOption
from aibot.config import LoadedConfig
from aibot.i18n import N_

if TYPE_CHECKING:
    from aibot.store.database import Database
    from aibot.store.quality import ArmStats

canary_app = typer.Typer(
    name="canary",
    no_args_is_help=True,
    help=N_("Compare a canary provider with the default, then promote or roll it back."),
)

METRICS_TIMEOUT = 3.0


def _arms(loaded: LoadedConfig) -> tuple[str, str]:
    models = loaded.config.models
    if models.canary is None:
        fail(
            tr("no canary is running: set models.canary: {{provider: NAME, weight: 10}} first"),
            code=1,
        )
    default = models.default or next(iter(models.providers), None)
    if default is None:
        fail(tr("no default provider is configured"), code=1)
    return default, models.canary.provider


@canary_app.command("status", help=N_("Both arms side by side, with sample sizes."))
def status(
    config: ConfigOption = None,
    days: Annotated[float, typer.Option(help=N_("How far back to look."))] = 7.0,
) -> None:
    loaded = load_or_exit(config)
    arms = _arms(loaded)
    stats = _collect(loaded, arms, time.time() - days * 86400)
    default, canary = arms
    table = Table(
        "",
        tr("{name} (default)", name=default),
        tr("{name} (canary)", name=canary),
        box=None,
    )
    table.add_row(tr("answers"), *(str(s.answers) for s in stats))
    table.add_row(tr("👍 share (ratings)"), *(_share(s.csat, s.ratings) for s in stats))
    table.add_row(tr("error rate (calls)"), *(_share(s.error_rate, s.calls) for s in stats))
    table.add_row(tr("latency p50 / p95"), *(_latency(s.latency_p50, s.latency_p95) for s in stats))
    table.add_row(
        tr("tokens per answer"),
        *(f"{s.tokens_mean:.0f}" if s.tokens_mean is not None else "-" for s in stats),
    )
    console.print(table, highlight=False)
    console.print(
        tr(
            "answers, ratings, latency, tokens: the last {days:g} days from the store; "
            "errors: since the running gateway started (/metrics).",
            days=days,
        ),
        style="dim",
        markup=False,
    )


def _collect(loaded: LoadedConfig, arms: tuple[str, str], since: float) -> list[ArmStats]:
    from dataclasses import replace

    from aibot.admin.stats import provider_counts
    from aibot.store.quality import arm_stats

    async def read(engine: Database) -> list[ArmStats]:
        return [await arm_stats(engine, name, since) for name in arms]

    stats = on_store(loaded.config.storage.url, read)
    counts = provider_counts(asyncio.run(_metrics(loaded)))
    return [
        replace(
            s, calls=counts.get(s.provider, (0, 0))[0], errors=counts.get(s.provider, (0, 0))[1]
        )
        if counts
        else s
        for s in stats
    ]


async def _metrics(loaded: LoadedConfig) -> str:
    """The running gateway's /metrics, or "" when it cannot be reached."""
    import aiohttp

    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                loaded.config.server.local_url + "/metrics",
                timeout=aiohttp.ClientTimeout(total=METRICS_TIMEOUT),
            ) as response,
        ):
            return await response.text() if response.status == 200 else ""
    except (TimeoutError, aiohttp.ClientError):
        return ""


def _share(value: float | None, sample: int | None) -> str:
    return "-" if value is None else f"{value:.1%} (n={sample})"


def _latency(p50: float | None, p95: float | None) -> str:
    return "-" if p50 is None or p95 is None else f"{p50:.2f} s / {p95:.2f} s"


@canary_app.command(
    "promote", help=N_("Make the canary the default for all traffic and end the split.")
)
def promote(config: ConfigOption = None) -> None:
    loaded = load_or_exit(config)
    default, canary = _arms(loaded)
    _edit(loaded, lambda models: models.__setitem__("default", canary))
    _audit(loaded, "canary.promote", f"{canary} replaces {default} as the default")
    console.print(
        tr("{name} is now the default model; the split has ended.", name=canary), markup=False
    )


@canary_app.command("rollback", help=N_("End the split: all traffic back to the default."))
def rollback(config: ConfigOption = None) -> None:
    loaded = load_or_exit(config)
    default, canary = _arms(loaded)
    _edit(loaded, lambda _models: None)
    _audit(loaded, "canary.rollback", f"{canary} rolled back; {default} takes all traffic")
    console.print(
        tr(
            "the canary {canary} is rolled back; {default} takes all traffic.",
            canary=canary,
            default=default,
        ),
        markup=False,
    )


def _edit(loaded: LoadedConfig, change: Callable[[dict[str, Any]], None]) -> None:
    """Removes models.canary (after `change(models)`), keeping the file's comments and mode."""
    from aibot.config.edit import edit_config, section

    if loaded.path is None:
        fail(tr("there is no config.yaml to change (running on defaults)"), code=1)

    def end_split(document: dict[str, Any]) -> None:
        models = section(document, "models")
        change(models)
        models.pop("canary", None)

    try:
        edit_config(loaded.path, end_split)
    except (OSError, ValueError) as exc:
        fail(
            tr("could not change {path}: {reason}", path=str(loaded.path), reason=str(exc)), code=1
        )


def _audit(loaded: LoadedConfig, action: str, target: str) -> None:
    from aibot.store.audit import AuditEntry, AuditLog

    entry = AuditEntry(time.time(), f"cli:{getpass.getuser()}", action, target, "local")
    on_store(loaded.config.storage.url, lambda engine: AuditLog(engine).record(entry))
