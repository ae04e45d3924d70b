"""The report as rich tables: one row per model, then one row per metric with its verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aibot.evaluation.report import Report, describe_advantage, format_value
from aibot.evaluation.scoring import METRICS
from aibot.i18n import tr


def print_report(report: Report, console: Console) -> None:
    shown = [m for m in METRICS if any(s.mean(m.key) is not None for s in report.scores)]
    title = tr("{n} cases from {source}", n=len(report.cases), source=report.source)
    models = Table(title=escape(title), title_justify="left")
    models.add_column(tr("provider"))
    models.add_column(tr("model"))
    for metric in shown:
        unit = f" ({metric.unit})" if metric.unit else ""
        models.add_column(escape(tr(metric.label) + unit), justify="right")
    models.add_column(tr("corpus BLEU"), justify="right")
    models.add_column(tr("p50 / p95 (s)"), justify="right")
    models.add_column(tr("tokens in / out"), justify="right")
    priced = any(s.cost is not None for s in report.scores)
    if priced:
        models.add_column(tr("total cost"), justify="right")
    for s in report.scores:
        latency = (
            f"{format_value('latency', s.latency_p50)} / {format_value('latency', s.latency_p95)}"
        )
        models.add_row(
            escape(s.name),
            escape(s.model),
            *(format_value(m.key, s.mean(m.key)) for m in shown),
            f"{s.corpus_bleu:.2f}",
            latency,
            f"{s.prompt_tokens} / {s.completion_tokens}",
            *([format_value("cost", s.cost)] if priced else []),
        )
    console.print(models)
    if report.judge:
        console.print(escape(tr("judge: {name}", name=report.judge)), highlight=False)
    console.print(_verdicts(report))


def _verdicts(report: Report) -> Table:
    title = tr("Which model is better (paired bootstrap, 95% CI)")
    table = Table(title=escape(title), title_justify="left")
    for column in (tr("metric"), tr("winner"), tr("advantage [95% CI]"), tr("significant")):
        table.add_column(escape(column))
    for verdict in report.verdicts:
        answer = tr("yes") if verdict.significant else tr("no (noise)")
        colour = "green" if verdict.significant else "yellow"
        significant = f"[{colour}]{escape(answer)}[/]"
        table.add_row(
            escape(tr(verdict.metric.label)),
            escape(verdict.winner or tr("tie")),
            escape(describe_advantage(verdict)),
            significant,
        )
    return table
