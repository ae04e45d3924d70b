"""The benchmark's figures against the published targets, as tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from bench.gc_probe import GcPauses
    from bench.measure import Figures

# The published targets (DESIGN: one box first): figure name → (comparison, bound).
TARGETS: dict[str, tuple[str, float]] = {
    "paced_added_p99_ms": ("<=", 20.0),
    "idle_rss_mb": ("<=", 80.0),
    "cold_start_s": ("<=", 0.5),
    "gc_pause_p999_ms": ("<=", 5.0),
}


def verdict(name: str, value: float | None) -> tuple[str, str]:
    """The target text and a ✓/✗ for a figure that has a target."""
    if name not in TARGETS:
        return "", ""
    return bounded(value, *TARGETS[name])


def target_text(op: str, bound: float) -> str:
    return f"{'≥' if op == '>=' else '≤'} {bound:g}"


def bounded(value: float | None, op: str, bound: float) -> tuple[str, str]:
    text = target_text(op, bound)
    if value is None:
        return text, "[red]✗[/]"
    met = value >= bound if op == ">=" else value <= bound
    return text, "[green]✓[/]" if met else "[red]✗[/]"


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _spread(f: Figures) -> str:
    """How the load reached the replicas, when not message by message."""
    return " (each conversation on one)" if f.affinity else ""


def paths_table(f: Figures) -> Table:
    """Each path beside the bare uvicorn hello measured just before it."""
    gateways = (
        f"{f.replicas} replicas{_spread(f)} (CPU ms/msg: all of them)" if f.replicas else "gateway"
    )
    table = Table(
        title=f"{f.messages:,} messages per path, {f.concurrency} concurrent, "
        f"{f.cpu_count or '?'} CPUs shared by client, fake, hello and {gateways}"
    )
    columns = (
        "path",
        "msg/s",
        "hello msg/s",
        "× hello",
        "CPU ms/msg",
        "busy CPU ms/msg",
        "hello CPU ms/msg",
        "p50 / p99 ms",
        "added p99 ms",
        "errors",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    reference = [(f"{p.name}, one process", p) for p in f.reference or []]
    reference += [(f"{p.name}, {f.replicas} independent", p) for p in f.independent or []]
    for name, p in [(p.name, p) for p in f.paths] + reference:
        fraction = f"{p.fraction_of_hello:.3f}"
        if p.min_fraction is not None:
            fraction += " " + bounded(p.fraction_of_hello, ">=", p.min_fraction)[1]
        cpu = fmt(p.cpu_ms_per_message, 3)
        if p.max_cpu_ms is not None:
            cpu += " " + bounded(p.cpu_ms_per_message, "<=", p.max_cpu_ms)[1]
        added = fmt(p.added_p99_ms) + " " + bounded(p.added_p99_ms, "<=", 50.0)[1]
        table.add_row(
            name,
            fmt(p.messages_per_s, 0),
            fmt(p.hello_per_s, 0),
            fraction,
            cpu,
            fmt(p.busy_cpu_ms_per_message, 3),
            fmt(p.hello_cpu_ms_per_message, 3),
            f"{fmt(p.p50_ms)} / {fmt(p.p99_ms)}",
            added,
            str(p.errors),
        )
    return table


def scale_out_ratio(f: Figures) -> list[str]:
    """Per path with --reference: one process's CPU per message ÷ the replicas' (all of them
    together, over the same messages), measured in the same alternating blocks; issue 20 asks
    ≥ 0.7 × per replica. Also the same ratio of busy CPU (without each one's idle polls)."""
    lines = []
    for replicas, one in zip(f.paths, f.reference or [], strict=False):
        ratio = _ratio(one.cpu_ms_per_message, replicas.cpu_ms_per_message)
        busy = _ratio(one.busy_cpu_ms_per_message, replicas.busy_cpu_ms_per_message)
        mark = bounded(ratio, ">=", 0.7)[1]
        lines.append(
            f"{replicas.name}: one process ÷ {f.replicas} replicas{_spread(f)}, CPU ms/msg "
            f"{fmt(ratio, 3)} × {mark} (busy {fmt(busy, 3)} ×; target ≥ 0.7 ×)"
        )
    for replicas, one, apart in zip(f.paths, f.reference or [], f.independent or [], strict=False):
        box = _ratio(one.cpu_ms_per_message, apart.cpu_ms_per_message)
        scale_out = _ratio(apart.cpu_ms_per_message, replicas.cpu_ms_per_message)
        lines.append(
            f"{replicas.name}: one process ÷ {f.replicas} independent processes "
            f"{fmt(box, 3)} × (sharing the box); {f.replicas} independent ÷ "
            f"{f.replicas} replicas {fmt(scale_out, 3)} × (what scale-out mode adds)"
        )
    return lines


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def report(figures: Figures, console: Console) -> None:
    f = figures
    console.print(paths_table(f))
    for line in scale_out_ratio(f):
        console.print(line)
    table = Table(title="the rest of the figures")
    for column in ("figure", "value", "target", ""):
        table.add_column(column, justify="right" if column == "value" else "left")
    rows: list[tuple[str, str, str | None]] = [
        ("fake alone p50 / p99 (ms)", f"{fmt(f.fake_p50_ms)} / {fmt(f.fake_p99_ms)}", None),
        (
            f"gateway-added p50 / p99 (ms) at {f.paced_rate:g} msg/s paced ({f.paced_path})",
            f"{fmt(f.paced_added_p50_ms)} / {fmt(f.paced_added_p99_ms)}",
            "paced_added_p99_ms",
        ),
        ("idle RSS (MB)", fmt(f.idle_rss_mb), "idle_rss_mb"),
        ("RSS after load (MB)", fmt(f.loaded_rss_mb), None),
        ("cold start (s)", fmt(f.cold_start_s, 2), "cold_start_s"),
    ]
    for label, value, target in rows:
        text, mark = verdict(target, getattr(f, target)) if target else ("", "")
        table.add_row(label, value, text, mark)
    table.add_row("GC pause p99.9 over collections while serving (ms, wall)", *gc_pause_row(f.gc))
    if f.gc is not None:
        table.add_row("measured messages that met a GC pause", f.gc.met_text(), "", "")
    console.print(table)
    if f.gc is not None:
        console.print(f"garbage collector: {f.gc.summary()}")
    for p in f.paths:
        for kind, n in p.error_kinds.items():
            console.print(f"[red]{p.name}: {n} × {escape(kind)}[/]")


def gc_pause_row(pauses: GcPauses | None) -> tuple[str, str, str]:
    """Value, target text and mark of the GC pause figure. No collection while serving is said
    as such: no pause was measured, so the target is neither met nor missed. Over too few
    collections for a p99.9 of its own the value says it is the longest of how many."""
    if pauses is not None and not pauses.serving_collections:
        return "no collection while serving", target_text(*TARGETS["gc_pause_p999_ms"]), ""
    p999 = pauses.p999_ms if pauses else None
    value = fmt(p999)
    if pauses is not None and pauses.p999_is_max:
        value += f" (the max of {pauses.serving_collections:,})"
    return value, *verdict("gc_pause_p999_ms", p999)
