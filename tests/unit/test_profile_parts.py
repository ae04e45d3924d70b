"""bench/profile_parts.py: a sample counts for the innermost frame that belongs to a part."""

from __future__ import annotations

from pathlib import Path

from bench.profile_parts import part_of, parts

_RUN = "Runner.run (asyncio/runners.py:118)"
_SEND = "RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py:{line})"
_SUBMIT = "Dispatcher.submit (aibot/core/dispatcher.py:63)"


def test_the_innermost_frame_of_a_part_takes_the_sample() -> None:
    assert part_of([_RUN, _SUBMIT, "create_task (asyncio/tasks.py:381)"]).startswith("event")
    assert part_of([_RUN, _SUBMIT]).startswith("pipeline")
    assert part_of([_RUN, _SEND.format(line=522)]) == "uvicorn: socket writes"
    assert part_of([_RUN, _SEND.format(line=477)]).startswith("uvicorn: reading")
    assert part_of(["<module> (ai-bot:10)"]) == "other"


def test_shares_are_summed_per_file(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text(f"{_RUN};{_SUBMIT} 3\n{_RUN};{_SEND.format(line=549)} 1\n")
    counts, total = parts(raw)
    assert total == 4
    assert counts["uvicorn: socket writes"] == 1
