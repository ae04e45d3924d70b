"""The soak's figures as tables: the verdict, the channels, RSS over time."""

from __future__ import annotations

from bench.soak_figures import Figures, filling_note
from bench.soak_traffic import PLATEAU_WINDOW, SETTLE, SHARES
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def rss_rows(figures: Figures, rows: int = 15) -> list[tuple[float, float, int, str]]:
    """At most ``rows`` evenly spread samples (always the first and the last), each marked when
    it lies in the plateau window."""
    samples = figures.samples
    picks = sorted({round(i * (len(samples) - 1) / max(1, rows - 1)) for i in range(rows)})
    low, high = (figures.wall_s * f for f in PLATEAU_WINDOW)
    marked = []
    for index in picks:
        t, rss, done = samples[index]
        note = "plateau window" if low <= t <= high else ""
        if index == len(samples) - 1:
            note = f"end ({SETTLE:g} s after the last answer)"
        marked.append((t, rss, done, note))
    return marked


def report(f: Figures, console: Console) -> None:
    load = "/".join(f"{x:.2f}" for x in f.load_before)
    load_after = "/".join(f"{x:.2f}" for x in f.load_after)
    store = f.storage + (" + redis" if f.redis else "")
    console.print(
        f"[bold]ai-bot soak[/]: {f.messages:,} messages, {f.concurrency} concurrent clients, "
        f"{f.conversations:,} conversations (max_turns {f.max_turns}), {store}, "
        f"{f.cpu_count or '?'} CPUs shared by the client, the fake model and the gateway; "
        f"load average {load} before, {load_after} after (1/5/15 min)",
        highlight=False,
    )

    memory = Table(title=f"gateway RSS (VmRSS, MB) — idle before the load: {f.idle_rss_mb:,.1f}")
    for column in ("seconds", "RSS (MB)", "messages done", ""):
        memory.add_column(column, justify="left" if column == "" else "right")
    for t, rss, done, note in rss_rows(f):
        memory.add_row(f"{t:,.1f}", f"{rss:,.1f}", f"{done:,}", note)
    console.print(memory)

    per_message = f.gateway_cpu_s * 1000 / max(1, f.total.answered)
    latency = Table(
        title=f"latency per channel (ms, client side) over {f.wall_s:,.1f} s; "
        f"gateway CPU {f.gateway_cpu_s:,.1f} s ({per_message:.2f} ms/message)"
    )
    latency.add_column("channel", no_wrap=True, min_width=max(len(c) for c in SHARES))
    for column in ("answered", "errors", "msg/s", "p50", "p90", "p99", "max"):
        latency.add_column(column, justify="right")
    for c in [*f.channels, f.total]:
        latency.add_row(
            c.name,
            f"{c.answered:,}",
            f"{c.errors:,}",
            f"{c.messages_per_s:,.1f}",
            _ms(c.p50_ms),
            _ms(c.p90_ms),
            _ms(c.p99_ms),
            _ms(c.max_ms),
            style="bold" if c is f.total else None,
        )
    console.print(latency)

    if f.error_kinds:
        errors = Table(title="errors by kind")
        for column in ("channel", "count", "kind"):
            errors.add_column(column, justify="right" if column == "count" else "left")
        for name, kind, n in f.error_kinds:
            errors.add_row(name, f"{n:,}", escape(kind))
        console.print(errors)

    verdict = Table(title="verdict (plateau = median RSS of the samples 20–40 % into the load)")
    for column in ("check", "measured", ""):
        verdict.add_column(column)
    for check, detail, ok in f.checks:
        verdict.add_row(check, detail, "[green]✓[/]" if ok else "[red]✗[/]")
    console.print(verdict)
    if f.gc is not None:
        console.print(f"garbage collector: {f.gc.summary()}", highlight=False)
    if (fill := filling_note(f)) is not None:
        console.print(f"[yellow]note:[/] {fill}", highlight=False)
    console.print("[bold green]PASS[/]" if f.passed else "[bold red]FAIL[/]")
