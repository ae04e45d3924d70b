"""`ai-bot eval`: compare configured models on a test set (or on sampled real conversations).

Only typer is imported at module level so `ai-bot --help` stays instant; the scoring stack
(sacrebleu, numpy, SQLAlchemy) loads when the command runs. sacrebleu and numpy are the `eval`
extra (`pip install 'ai-bot[eval]'`), not the gateway's dependencies. Every problem with the
input is one line on stderr and exit code 2, before any model is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aibot.cli.common import listed, tr
from aibot.cli.options import ConfigOption
from aibot.i18n import N_

if TYPE_CHECKING:
    from aibot.config import Config
    from aibot.evaluation.dataset import Case
    from aibot.evaluation.report import Report
    from aibot.evaluation.runner import Answer
    from aibot.evaluation.scoring import Price
    from aibot.store.crypto import Cipher

MIN_MODELS = 2
EVAL_HELP = N_("Run two or more models over a test set and say which is better, beyond noise.")
EXTRA = ("sacrebleu", "numpy")  # the `eval` extra


def evaluate(
    testset: Annotated[
        Path | None,
        typer.Argument(
            metavar="TESTSET.jsonl",
            show_default=False,
            help=N_("JSONL test set: question, reference, optional history, tags, expect."),
        ),
    ] = None,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            "-m",
            metavar="A,B",
            show_default=False,
            help=N_("Two or more provider names from models.providers, comma-separated."),
        ),
    ] = "",
    judge: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help=N_("Provider that grades every answer 1-5 against the reference (LLM-as-judge)."),
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help=N_("Model calls at once."))] = 4,
    json_out: Annotated[
        Path | None, typer.Option("--json", help=N_("Write the JSON report here."))
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help=N_("Write the HTML report here."))
    ] = None,
    seed: Annotated[int, typer.Option(help=N_("Seed for the bootstrap and history sampling."))] = 1,
    from_history: Annotated[
        float | None,
        typer.Option(
            "--from-history",
            metavar="DAYS",
            min=0.001,
            help=N_("Instead of a file, sample real conversations of the last DAYS (PII masked)."),
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help=N_("Cases sampled with --from-history."))] = 100,
    price: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=IN/OUT",
            help=N_(
                "Price per 1k tokens, provider=IN/OUT (e.g. deepseek=0.002/0.008); repeatable."
            ),
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    from importlib.util import find_spec

    from aibot.cli.common import fail, load_or_exit

    if any(find_spec(name) is None for name in EXTRA):
        fail(
            tr(
                "`ai-bot eval` needs its scoring libraries: pip install 'ai-bot[eval]' "
                "(in a checkout: .venv/bin/pip install -e '.[eval]')"
            )
        )
    loaded = load_or_exit(config)
    names = _model_names(models, loaded.config)
    if judge is not None:
        _check_known(judge, loaded.config, "--judge")
    prices = _prices(price or [], names, loaded.config)
    cases, source = _cases(testset, from_history, limit, seed, loaded.config)
    report = _run(cases, source, names, judge, concurrency, prices, seed, loaded.config)
    _publish(report, json_out, html_out)


def _check_known(name: str, config: Config, flag: str) -> None:
    from aibot.cli.common import fail

    known = config.models.providers
    if name not in known:
        configured = listed(known) or tr("none configured")
        fail(
            tr(
                "{flag}: unknown provider {name} (models.providers: {configured})",
                flag=flag,
                name=repr(name),
                configured=configured,
            )
        )


def _model_names(models: str, config: Config) -> list[str]:
    from aibot.cli.common import fail

    names = list(dict.fromkeys(n.strip() for n in models.split(",") if n.strip()))
    if len(names) < MIN_MODELS:
        fail(tr("--models needs at least two provider names, e.g. --models deepseek,glm"))
    for name in names:
        _check_known(name, config, "--models")
    return names


def _prices(values: list[str], names: list[str], config: Config) -> dict[str, Price]:
    from aibot.cli.common import fail
    from aibot.evaluation.scoring import Price

    prices = {}
    for value in values:
        name, _, amounts = value.partition("=")
        prompt, _, completion = amounts.partition("/")
        try:
            parsed = Price(float(prompt), float(completion))
        except ValueError:
            fail(
                tr(
                    "--price {value}: expected provider=IN/OUT, e.g. deepseek=0.002/0.008",
                    value=repr(value),
                )
            )
        if parsed.prompt < 0 or parsed.completion < 0:
            fail(tr("--price {value}: prices cannot be negative", value=repr(value)))
        _check_known(name, config, "--price")
        if name not in names:
            fail(
                tr(
                    "--price {value}: {name} is not one of --models",
                    value=repr(value),
                    name=repr(name),
                )
            )
        prices[name] = parsed
    return prices


def _cases(
    testset: Path | None, days: float | None, limit: int, seed: int, config: Config
) -> tuple[list[Case], str]:
    import asyncio
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from aibot.cli.common import cipher_or_exit, fail, print_error
    from aibot.evaluation.dataset import DatasetError, load_dataset

    if testset is not None and days is None:
        try:
            return load_dataset(testset), str(testset)
        except DatasetError as exc:
            for problem in exc.problems[:-1]:
                print_error(problem)
            fail(exc.problems[-1])
    if days is None or testset is not None:
        fail(tr("give either a TESTSET.jsonl file or --from-history DAYS (one of the two)"))
    try:
        cipher = cipher_or_exit(config)
        cases = asyncio.run(_sample(config, days, limit, seed, time.time(), cipher))
    except SQLAlchemyError as exc:
        reason = f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        fail(tr("cannot read conversations from the store: {reason}", reason=reason))
    if not cases:
        fail(tr("no answered questions in the store from the last {days:g} days", days=days))
    return cases, tr("history (last {days:g} days)", days=days)


async def _sample(
    config: Config, days: float, limit: int, seed: int, now: float, cipher: Cipher
) -> list[Case]:
    """The store's history, and what of the window was moved to the archive bucket."""
    from aibot.cli.common import fail
    from aibot.evaluation.archived import archived_history
    from aibot.evaluation.history import DAY, sample_history
    from aibot.store.archive.bucket import ArchiveError, Bucket
    from aibot.store.engine import create_engine

    engine = create_engine(config.storage.url)
    try:
        archived = (
            await archived_history(engine, Bucket(config.archive), now - days * DAY)
            if config.archive is not None
            else {}
        )
        return await sample_history(
            engine, days=days, limit=limit, now=now, seed=seed, cipher=cipher, archived=archived
        )
    except ArchiveError as exc:
        fail(tr("cannot read the archived history: {reason}", reason=str(exc)), code=1)
    finally:
        await engine.dispose()


def _run(
    cases: list[Case],
    source: str,
    names: list[str],
    judge_name: str | None,
    concurrency: int,
    prices: dict[str, Price],
    seed: int,
    config: Config,
) -> Report:
    import asyncio

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from aibot.cli.common import err_console, fail, said
    from aibot.evaluation.judge import Judge
    from aibot.evaluation.report import build_report
    from aibot.evaluation.runner import run_cases
    from aibot.providers.openai_compat import OpenAICompatibleProvider

    wanted = [*names, *([judge_name] if judge_name and judge_name not in names else [])]
    try:
        providers = {n: OpenAICompatibleProvider(n, config.models.providers[n]) for n in wanted}
    except ValueError as exc:
        fail(said(exc))
    judge = Judge(providers[judge_name]) if judge_name else None

    async def run() -> dict[str, list[Answer]]:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        ) as progress:
            task = progress.add_task(tr("asking the models"), total=len(cases) * len(names))
            try:
                return await run_cases(
                    cases,
                    {n: providers[n] for n in names},
                    concurrency=concurrency,
                    judge=judge,
                    on_done=lambda: progress.advance(task),
                )
            finally:
                for provider in providers.values():
                    await provider.close()

    answers = asyncio.run(run())
    return build_report(
        source,
        cases,
        answers,
        {n: providers[n].model for n in names},
        judge=judge.name if judge else None,
        prices=prices,
        seed=seed,
    )


def _publish(report: Report, json_out: Path | None, html_out: Path | None) -> None:
    from aibot.cli.common import console, fail
    from aibot.evaluation.html_report import render_html
    from aibot.evaluation.report import to_json
    from aibot.evaluation.terminal import print_report

    print_report(report, console)
    try:
        if json_out is not None:
            json_out.write_bytes(to_json(report))
            console.print(tr("JSON report: {path}", path=str(json_out)), highlight=False)
        if html_out is not None:
            html_out.write_text(render_html(report), encoding="utf-8")
            console.print(tr("HTML report: {path}", path=str(html_out)), highlight=False)
    except OSError as exc:
        fail(
            tr(
                "cannot write the report: {reason}: {path}",
                reason=exc.strerror,
                path=str(exc.filename),
            )
        )
