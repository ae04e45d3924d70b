"""A plain `ai-bot run` is parsed without typer (aibot.cli.run_plain): it serves without
importing typer, its options come out as typer gives them to `run`, everything else (help, a
refusal) is typer's as before, and a start ends the same whichever parsed it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aibot.cli import run_command
from aibot.cli.run_plain import RUN_OPTIONS, plain_options
from tests.support.cli import AI_BOT, cli_env
from tests.support.probes import serve_once


def test_a_plain_start_serves_without_typer(tmp_path: Path) -> None:
    report = 'print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "typer")))'
    assert json.loads(serve_once(tmp_path, "import json", report)) == []


ENV_NAMES = [o.envvar for o in RUN_OPTIONS]


def typer_gives(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """What typer's `ai-bot run ARGS` calls `start` with, or its exit code when it refuses."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(run_command, "start", lambda **options: calls.append(options))
    unset: dict[str, str | None] = dict.fromkeys(ENV_NAMES)
    result = CliRunner().invoke(run_command.command_line(), ["run", *args], env={**unset, **env})
    return calls[0] if calls else result.exit_code


PLAIN = [
    ([], {}),
    (["-c", "a.yaml"], {}),
    (["--config=a.yaml"], {}),
    (["-ca.yaml"], {}),
    (["--host", "0.0.0.0", "--port", "8080"], {}),
    (["--port", "0080", "--port", "9000"], {}),
    (["--trusted-proxy", "10.0.0.1", "--trusted-proxy", "10.1.0.0/16"], {}),
    ([], {"AIBOT_TRUSTED_PROXIES": "10.0.0.1 10.0.0.2", "AIBOT_PORT": "9000"}),
    (["--port", "1234"], {"AIBOT_PORT": "9000", "AIBOT_CONFIG": "b.yaml", "AIBOT_HOST": ""}),
    (["--trusted-proxy", "10.0.0.3"], {"AIBOT_TRUSTED_PROXIES": "10.0.0.1"}),
]


@pytest.mark.parametrize(("args", "env"), PLAIN)
def test_plain_options_are_what_typer_gives_run(
    args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = typer_gives(args, env, monkeypatch)
    assert isinstance(expected, dict), expected
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert plain_options(args) == expected


NOT_PLAIN = [
    (["--help"], {}),
    (["-h"], {}),
    (["--version"], {}),
    (["--nope"], {}),
    (["extra"], {}),
    (["--port"], {}),
    (["--port", "abc"], {}),
    (["--port", " 80"], {}),
    (["--port", "+80"], {}),
    (["--port", "٨٠"], {}),  # Arabic-Indic digits
    ([], {"AIBOT_PORT": "x"}),
]


@pytest.mark.parametrize(("args", "env"), NOT_PLAIN)
def test_what_is_not_plain_is_left_to_typer(
    args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert plain_options(args) is None


# What `ai-bot run --help` printed before the plain path, at 100 columns in English.
RUN_HELP = """
 Usage: ai-bot run [OPTIONS]

 Start the gateway (web chat, APIs, channels) until Ctrl-C or SIGTERM.

 Without a config file it runs on defaults: SQLite under ./data, 127.0.0.1:18789, and any provider
 key found in the environment or .env (e.g. DEEPSEEK_API_KEY).

╭─ Options ────────────────────────────────────────────────────────────────────────────────────────╮
│ --config         -c      <str>        Path to config.yaml (default: ./config.yaml, else built-in │
│                                       defaults).                                                 │
│                                       [env var: AIBOT_CONFIG]                                    │
│ --host                   <str>        Override server.host. [env var: AIBOT_HOST]                │
│ --port                   <int>        Override server.port. [env var: AIBOT_PORT]                │
│ --trusted-proxy          <list[str]>  A reverse proxy (IP or CIDR) whose X-Forwarded-For/-Proto  │
│                                       are believed; repeat for several; added to                 │
│                                       server.trusted_proxies.                                    │
│                                       [env var: AIBOT_TRUSTED_PROXIES]                           │
│ --help                                Show this message and exit.                                │
╰──────────────────────────────────────────────────────────────────────────────────────────────────╯

"""
ERROR_FRAME = "╭─ Error " + "─" * 90 + "╮\n│ {:<96} │\n╰" + "─" * 98 + "╯\n"
REFUSED = "Usage: ai-bot run [OPTIONS]\nTry 'ai-bot run --help' for help.\n" + ERROR_FRAME


@pytest.mark.parametrize(
    ("args", "code", "printed"),
    [
        (["--help"], 0, RUN_HELP),
        (["-h"], 2, REFUSED.format("No such option: -h")),
        (["--version"], 2, REFUSED.format("No such option: --version")),
        (["extra"], 2, REFUSED.format("Got unexpected extra argument(s) (extra)")),
        (["--port"], 2, ERROR_FRAME.format("Option '--port' requires an argument.")),
    ],
)
def test_help_and_refusals_print_what_they_printed(
    args: list[str], code: int, printed: str
) -> None:
    result = subprocess.run(
        [str(AI_BOT), "run", *args],
        capture_output=True,
        text=True,
        env={**cli_env(), "COLUMNS": "100"},
        timeout=120,
        check=False,
    )
    lines = (result.stdout + result.stderr).splitlines()
    assert (result.returncode, [x.rstrip() for x in lines]) == (code, printed.splitlines())


# A start that ends by a refusal, Ctrl-C or a crash, through the plain path or typer's.
ENDING_PROBE = """
import sys
from aibot.cli import common, run_command, run_plain

ENDING = sys.argv[2]

def start(**options):
    if ENDING == "refused":
        common.fail("refused")
    raise KeyboardInterrupt if ENDING == "interrupt" else RuntimeError("boom")

run_plain.start = run_command.start = start
if sys.argv[1] == "typer":
    run_plain.plain_options = lambda args: None
sys.argv = ["ai-bot", "run"]
from aibot.cli.main import main
main()
"""


@pytest.mark.parametrize("ending", ["refused", "interrupt", "crash"])
def test_a_start_ends_as_under_typer(tmp_path: Path, ending: str) -> None:
    def ended(parser: str) -> tuple[int, str]:
        result = subprocess.run(
            [sys.executable, "-c", ENDING_PROBE, parser, ending],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
        said = result.stderr.strip().splitlines()
        # a crash's traceback names the frames it passed; what it says and the code are alike
        return result.returncode, "\n".join(said[-1:] if ending == "crash" else said)

    assert ended("plain") == ended("typer")
    assert ended("plain")[0] == {"refused": 2, "interrupt": 130, "crash": 1}[ending]
