"""`ai-bot eval` end to end: the real CLI against fake models on loopback.

One model answers every reference exactly, one answers badly, a third grades as the judge;
the report must name the good model the winner, beyond noise, in the terminal, JSON and HTML.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from aibot.evaluation.dataset import load_dataset
from tests.fakes.openai_server import Fail, FakeOpenAI, text_of
from tests.support.cli import AI_BOT, COLUMNS, clean_env
from tests.support.eval_data import RAW_EMAIL, RAW_ID, RAW_PHONE, SAMPLES, fill_store
from tests.support.html import StrictHTML

REFERENCES = {c.question: c.reference for c in load_dataset(SAMPLES)}
_GRADED = re.compile(r"Reference answer:\n(.*)\n\nAssistant's answer:\n(.*)\Z", re.S)


def last_user(body: dict[str, Any]) -> str:
    return next(text_of(m["content"]) for m in reversed(body["messages"]) if m["role"] == "user")


def good(body: dict[str, Any]) -> str:
    return REFERENCES.get(last_user(body), "I do not know.")


def bad(body: dict[str, Any]) -> str:
    return "Sorry, I am not sure about that."


def judge(body: dict[str, Any]) -> str:
    graded = _GRADED.search(last_user(body))
    assert graded is not None, "the judge prompt lost its structure"
    reference, answer = graded.groups()
    return "Score: 5\nMatches." if answer == reference else "**Score**: 2/5 - wrong."


async def run_cli(cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        "eval",
        *args,
        cwd=cwd,
        env={**clean_env(), "COLUMNS": COLUMNS},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def write_config(path: Path, fakes: dict[str, FakeOpenAI], storage: str | None = None) -> None:
    config: dict[str, Any] = {
        "models": {
            "providers": {
                name: {
                    "base_url": fake.base_url,
                    "api_key": "sk-eval-test",
                    "model": f"{name}-m",
                    "max_retries": 0,
                }
                for name, fake in fakes.items()
            }
        }
    }
    if storage:
        config["storage"] = {"url": storage}
    path.write_text(yaml.safe_dump(config))


async def test_good_model_wins_significantly_and_reports_are_complete(tmp_path: Path) -> None:
    async with (
        FakeOpenAI(reply=good) as a,
        FakeOpenAI(reply=bad) as b,
        FakeOpenAI(reply=judge) as j,
    ):
        write_config(tmp_path / "config.yaml", {"good": a, "bad": b, "grader": j})
        b.script(Fail(status=400, message="context too long"))  # one scored failure
        code, out, err = await run_cli(
            tmp_path,
            str(SAMPLES),
            "--models",
            "bad,good",
            "--judge",
            "grader",
            "--concurrency",
            "3",
            "--json",
            "out.json",
            "--html",
            "out.html",
            "--seed",
            "5",
            "--price",
            "good=0.002/0.008",
        )
    assert code == 0, err
    cases = len(REFERENCES)
    assert len(a.requests) == len(b.requests) == cases
    assert len(j.requests) == 2 * cases - 1  # every answer graded except the failed call
    assert "grader (grader-m)" in out

    report = orjson.loads((tmp_path / "out.json").read_bytes())
    assert report["judge"] == "grader (grader-m)" and report["cases"] == cases
    verdicts = {v["metric"]: v for v in report["verdicts"]}
    for metric in ("bleu", "success", "judge", "errors"):
        assert verdicts[metric]["winner"] == "good", metric
    for metric in ("bleu", "success", "judge"):
        assert verdicts[metric]["significant"] is True, metric
        [comparison] = verdicts[metric]["comparisons"]
        assert comparison["against"] == "bad" and comparison["advantage"]["ci_low"] > 0
    assert verdicts["errors"]["significant"] is False  # 1 failure in 16 is within noise
    assert "cost" not in verdicts  # priced for one model only: nothing to compare

    models = {m["provider"]: m for m in report["models"]}
    assert models["good"]["metrics"]["success"] == 100.0
    assert models["good"]["corpus_bleu"] > 99 and models["bad"]["corpus_bleu"] < 5
    assert models["good"]["metrics"]["judge"] == 5.0 and models["bad"]["errors"] == 1
    assert models["good"]["by_tag"]["zh"]["bleu"] > 99 and models["good"]["cost"] > 0
    assert models["good"]["prompt_tokens"] > 0 and models["good"]["latency_p95"] is not None
    failed = [r["answers"]["bad"] for r in report["rows"] if r["answers"]["bad"]["error"]]
    assert len(failed) == 1 and "HTTP 400: context too long" in failed[0]["error"]
    assert failed[0]["bleu"] == 0.0 and failed[0]["judge"] == 1.0

    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    parser = StrictHTML()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    assert parser.counts["svg"] == 3 and parser.counts["rect"] > 10  # BLEU, success, judge
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "grader (grader-m)" in page and "math" in page and "一打鸡蛋有几个" in page

    table = out.replace("│", "|")
    assert re.search(r"BLEU-4 \(sentence mean\)\s*\|\s*good\s*\|.*\|\s*yes", table)


async def test_from_history_masks_personal_data(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    await fill_store(store, now=time.time())
    async with FakeOpenAI(reply=good) as a, FakeOpenAI(reply=bad) as b:
        write_config(tmp_path / "config.yaml", {"good": a, "bad": b}, storage=store)
        code, out, err = await run_cli(
            tmp_path,
            "--from-history",
            "7",
            "--limit",
            "10",
            "--models",
            "good,bad",
            "--json",
            "h.json",
        )
        sent = [str(r.json) for r in a.requests]
    assert code == 0, err
    report = orjson.loads((tmp_path / "h.json").read_bytes())
    assert report["cases"] == 4 and report["source"] == "history (last 7 days)"
    everything = (tmp_path / "h.json").read_text() + out + "".join(sent)
    for raw in (RAW_PHONE, RAW_ID, RAW_EMAIL):
        assert raw not in everything
    assert "[phone]" in everything and "[id-card]" in everything and "[email]" in everything


async def test_bad_input_is_one_clear_line_and_no_model_is_called(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "q", "reference": "r"}\n{"question": "q"}\n[1]\n')
    async with FakeOpenAI() as a, FakeOpenAI() as b:
        write_config(tmp_path / "config.yaml", {"a": a, "b": b})
        checks = [
            (
                ("x.jsonl", "--models", "a,nope"),
                "--models: unknown provider 'nope' (models.providers: a, b)",
            ),
            ((str(SAMPLES), "--models", "a"), "--models needs at least two provider names"),
            ((str(SAMPLES), "--models", "a,b", "--judge", "j"), "--judge: unknown provider 'j'"),
            ((str(SAMPLES), "--models", "a,b", "--price", "a=cheap"), "expected provider=IN/OUT"),
            (("missing.jsonl", "--models", "a,b"), "missing.jsonl: no such file"),
            ((str(SAMPLES), "--from-history", "3", "--models", "a,b"), "one of the two"),
        ]
        results = await asyncio.gather(*(run_cli(tmp_path, *args) for args, _ in checks))
        for (args, message), (code, out, err) in zip(checks, results, strict=True):
            assert code == 2, (args, out, err)
            assert err.count("error:") == 1 and message in err, (args, err)
        code, _, err = await run_cli(tmp_path, str(broken), "--models", "a,b")
    assert code == 2
    assert f"{broken}:2: 'reference' missing" in err
    assert f"{broken}:3: expected a JSON object, got list" in err
    assert a.requests == [] and b.requests == []
