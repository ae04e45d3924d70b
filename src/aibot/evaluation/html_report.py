"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network), so
it can be mailed, attached to a ticket or opened offline years later and look the same."""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape

from aibot.evaluation.report import Report, Verdict, describe_advantage, format_value, scale
from aibot.evaluation.scoring import METRICS, TAG_METRICS, Metric, ModelScores

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
CHART_MAX = {"bleu": 100.0, "success": 100.0, "judge": 5.0}
BAR, GAP, GROUP_GAP, PLOT_HEIGHT, LEFT, BOTTOM, TOP = 22, 2, 26, 160, 40, 46, 18
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num{text-align:right}
.yes{color:#1a7f37;font-weight:600}.no{color:#8a6d00}.err{color:#b00020}
figure{display:inline-block;margin:1rem 2rem 1rem 0}figcaption{font-weight:600}
details{margin:1rem 0}pre{white-space:pre-wrap;margin:0;max-width:28rem}
"""


def render_html(report: Report) -> str:
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.created_at))
    judge = escape(report.judge) if report.judge else "none"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ai-bot eval: {escape(report.source)}</title><style>{CSS}</style></head><body>",
        f"<h1>Model evaluation: {escape(report.source)}</h1>",
        f"<p>{len(report.cases)} cases · {created} · judge: {judge} · bootstrap seed "
        f"{report.seed}</p>",
        "<h2>Verdicts</h2>",
        _verdicts(report.verdicts),
        "<h2>Models</h2>",
        _models(report.scores),
        "<h2>By tag</h2>",
        *_charts(report),
        "<h2>Answers</h2>",
        _answers(report),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _verdicts(verdicts: Sequence[Verdict]) -> str:
    rows = []
    for verdict in verdicts:
        interval = escape(describe_advantage(verdict))
        significant = (
            '<span class="yes">yes</span>'
            if verdict.significant
            else '<span class="no">no (within noise)</span>'
        )
        better = "higher" if verdict.metric.higher_is_better else "lower"
        rows.append(
            f"<tr><td>{escape(verdict.metric.label)} ({better} is better)</td>"
            f"<td>{escape(verdict.winner or 'tie')}</td><td>{interval}</td>"
            f"<td>{significant}</td></tr>"
        )
    return (
        "<table><tr><th>metric</th><th>winner</th><th>advantage [95% CI]</th>"
        "<th>significant</th></tr>" + "".join(rows) + "</table>"
    )


def _models(scores: Sequence[ModelScores]) -> str:
    head = "".join(f"<th>{escape(m.label)}</th>" for m in METRICS)
    rows = []
    for s in scores:
        cells = "".join(
            f'<td class="num">{format_value(m.key, s.mean(m.key))}</td>' for m in METRICS
        )
        p50, p95 = format_value("latency", s.latency_p50), format_value("latency", s.latency_p95)
        rows.append(
            f"<tr><td>{escape(s.name)}</td><td>{escape(s.model)}</td>{cells}"
            f'<td class="num">{s.corpus_bleu:.2f}</td><td class="num">{p50} / {p95}</td>'
            f'<td class="num">{s.prompt_tokens} / {s.completion_tokens}</td>'
            f'<td class="num">{format_value("cost", s.cost)}</td>'
            f'<td class="num">{s.errors}</td></tr>'
        )
    return (
        "<table><tr><th>provider</th><th>model</th>" + head + "<th>corpus BLEU</th>"
        "<th>latency p50 / p95 (s)</th><th>tokens in / out</th><th>total cost</th>"
        "<th>errors</th></tr>" + "".join(rows) + "</table>"
    )


def _charts(report: Report) -> list[str]:
    """One grouped bar chart per quality metric: a group per tag, a bar per model."""
    figures = []
    for metric in TAG_METRICS:
        if all(s.mean(metric.key) is None for s in report.scores):
            continue
        figures.append(
            f"<figure><figcaption>{escape(metric.label)} by tag</figcaption>"
            f"{bar_chart(metric, report.scores)}</figure>"
        )
    return figures


def bar_chart(metric: Metric, scores: Sequence[ModelScores]) -> str:
    tags = sorted({tag for s in scores for tag in s.by_tag})
    top = CHART_MAX[metric.key]
    group_width = len(scores) * (BAR + GAP) + GROUP_GAP
    width = LEFT + len(tags) * group_width + 10
    legend_y = TOP + PLOT_HEIGHT + 36
    height = legend_y + 18 * len(scores) + 4
    base = TOP + PLOT_HEIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-size="11" '
        f'aria-label="{escape(metric.label)} by tag">',
        f'<line x1="{LEFT}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#888"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{top:g}</text>',
        f'<text x="{LEFT - 4}" y="{base}" text-anchor="end">0</text>',
    ]
    for g, tag in enumerate(tags):
        x0 = LEFT + g * group_width + GROUP_GAP // 2
        for m, s in enumerate(scores):
            value = scale(metric.key, s.by_tag.get(tag, {}).get(metric.key))
            if value is None:
                continue
            h = max(0.0, min(value / top, 1.0)) * PLOT_HEIGHT
            x = x0 + m * (BAR + GAP)
            out.append(
                f'<rect x="{x}" y="{base - h:.1f}" width="{BAR}" height="{h:.1f}" '
                f'fill="{PALETTE[m % len(PALETTE)]}"><title>{escape(s.name)} · '
                f"{escape(tag)}: {value:.2f}</title></rect>"
            )
            out.append(
                f'<text x="{x + BAR / 2}" y="{base - h - 3:.1f}" text-anchor="middle" '
                f'font-size="9">{value:.0f}</text>'
            )
        label = tag if len(tag) <= 16 else tag[:15] + "…"
        out.append(
            f'<text x="{x0 + (group_width - GROUP_GAP) / 2}" y="{base + 14}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for m, s in enumerate(scores):
        y = legend_y + 18 * m
        out.append(
            f'<rect x="{LEFT}" y="{y - 10}" width="12" height="12" '
            f'fill="{PALETTE[m % len(PALETTE)]}"/>'
            f'<text x="{LEFT + 18}" y="{y}">{escape(s.name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _answers(report: Report) -> str:
    head = "".join(f"<th>{escape(s.name)}</th>" for s in report.scores)
    rows = []
    for i, case in enumerate(report.cases):
        cells = []
        for s in report.scores:
            answer = report.answers[s.name][i]
            body = (
                f'<span class="err">error: {escape(answer.error)}</span>'
                if answer.error is not None
                else f"<pre>{escape(answer.text or '')}</pre>"
            )
            cells.append(f"<td>{body}<br>BLEU {format_value('bleu', s.values['bleu'][i])}</td>")
        tags = ", ".join(case.tags)
        rows.append(
            f"<tr><td>{escape(case.id)}</td><td><pre>{escape(case.question)}</pre>"
            f"<small>{escape(tags)}</small></td><td><pre>{escape(case.reference)}</pre>"
            f"</td>{''.join(cells)}</tr>"
        )
    return (
        f"<details><summary>{len(report.cases)} cases</summary><table><tr><th>id</th>"
        f"<th>question</th><th>reference</th>{head}</tr>{''.join(rows)}</table></details>"
    )
