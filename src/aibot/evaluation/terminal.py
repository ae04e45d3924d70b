"""The report as rich tables: one row per model, then one row per metric with its verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aibot.evaluation.report import Report, describe_advantage, format_value
from aibot.evaluation.scoring import METRICS


def print_report(report: Report, console: Console) -> None:
    shown = [m for m in METRICS if any(s.mean(m.key) is not None for s in report.scores)]
    models = Table(
        title=f"{len(report.cases)} cases from {escape(report.source)}", title_justify="left"
    )
    models.add_column("provider")
    models.add_column("model")
    for metric in shown:
        unit = f" ({metric.unit})" if metric.unit else ""
        models.add_column(escape(metric.label + unit), justify="right")
    models.add_column("corpus BLEU", justify="right")
    models.add_column("p50 / p95 (s)", justify="right")
    models.add_column("tokens in / out", justify="right")
    priced = any(s.cost is not None for s in report.scores)
    if priced:
        models.add_column("total cost", justify="right")
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
        console.print(f"judge: {escape(report.judge)}", highlight=False)
    console.print(_verdicts(report))


def _verdicts(report: Report) -> Table:
    table = Table(title="Which model is better (paired bootstrap, 95% CI)", title_justify="left")
    for column in ("metric", "winner", "advantage [95% CI]", "significant"):
        table.add_column(column)
    for verdict in report.verdicts:
        table.add_row(
            escape(verdict.metric.label),
            escape(verdict.winner or "tie"),
            escape(describe_advantage(verdict)),
            "[green]yes[/]" if verdict.significant else "[yellow]no (noise)[/]",
        )
    return table
