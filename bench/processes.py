"""What the benchmarks start and stop: the OpenAI fake and the gateway as processes, with
their CPU time and memory read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from bench.scaleout import fresh_postgres, private_redis

REPO_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"
HEALTH_TIMEOUT = 90.0
STOP_GRACE = 5.0
MIB = 1024 * 1024

GC_PROBE = REPO_ROOT / "bench" / "gc_probe.py"
IMPORT_PROBE = REPO_ROOT / "bench" / "import_probe.py"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

JSON = dict[str, Any]


class BenchError(Exception):
    """A failure the operator must fix (gateway missing, unhealthy...): one line, no traceback."""


# --------------------------------------------------------------------------- process helpers


def free_port() -> int:
    """A loopback port that was free a moment ago (the gateway binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (MiB), from ``VmRSS`` — no psutil needed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MIB
    raise BenchError(f"no VmRSS for pid {pid} (has it exited?)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far, from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may contain spaces; skip past it
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` of a child's log, to say why it failed."""
    try:
        text = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def child_env() -> dict[str, str]:
    """The environment for children: loopback must never go through a configured proxy."""
    return {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after a grace period: no child may outlive the benchmark."""
    if proc.returncode is not None:
        return
    try:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    except ProcessLookupError:
        pass


async def stop_all(children: list[asyncio.subprocess.Process]) -> None:
    await asyncio.gather(*(stop_process(p) for p in children))


async def start_ready(
    argv: list[str], log: Path, children: list[asyncio.subprocess.Process], what: str
) -> tuple[asyncio.subprocess.Process, str]:
    """Start a child that prints `ready <base_url>` (added to ``children`` at once)."""
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            cwd=REPO_ROOT,
            env=child_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    children.append(proc)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), HEALTH_TIMEOUT)
    except TimeoutError:
        line = b""
    words = line.decode().split()
    if len(words) != 2 or words[0] != "ready":
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 1)
        state = "still running" if proc.returncode is None else f"exit code {proc.returncode}"
        raise BenchError(f"{what} did not start ({state}): {tail(log)}")
    return proc, words[1]


async def start_fake(log: Path, children: list[asyncio.subprocess.Process]) -> str:
    """Start the OpenAI fake (added to ``children`` at once) and return its base URL."""
    argv = ["-m", "tests.fakes.openai_server", "--port", "0", "--latency-ms", "0"]
    return (await start_ready(argv, log, children, "the OpenAI fake"))[1]


def write_config(tmp: Path, port: int, fake_url: str, extra: JSON | None = None) -> Path:
    """The gateway config: everything on loopback, SQLite under the temp dir, one fake provider.

    ``extra`` adds sections, or keys to a section (``{"server": {"public_url": ...}}``), for
    harnesses that need more than the API (``bench/soak.py``). JSON is valid YAML, so the file
    is written as JSON and any path or URL is quoted correctly.
    """
    config: JSON = {
        "server": {"host": "127.0.0.1", "port": port},
        # In data/, as the default `sqlite:///data/ai-bot.db` lays it out: the config watcher
        # watches config.yaml's folder, and a database there woke it on every commit.
        "storage": {"url": f"sqlite:///{tmp}/data/bench.db"},
        "channels": {"api": {"keys": [API_KEY]}},
        "models": {
            "default": "fake",
            "providers": {"fake": {"base_url": fake_url, "api_key": "x", "model": "fake-model"}},
        },
        "logging": {"level": "warning"},
    }
    for section, value in (extra or {}).items():
        config[section] = {**config.get(section, {}), **value}
    path = tmp / "config.yaml"
    path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    return path


async def start_gateway(
    tmp: Path,
    fake_url: str,
    http: aiohttp.ClientSession,
    children: list[asyncio.subprocess.Process],
    *,
    port: int | None = None,
    extra: JSON | None = None,
    command: Path | None = None,
    gc_pauses: Path | None = None,
    import_times: Path | None = None,
) -> tuple[asyncio.subprocess.Process, str, float]:
    """Start ``ai-bot run`` (added to ``children`` at once); time it until ``/healthz`` is 200.

    ``port`` (default: a free one) and ``extra`` (see ``write_config``) shape the config;
    ``command`` is the ``ai-bot`` to start (default: the one beside this Python), so another
    build can be measured with the same driver. With ``gc_pauses`` it runs under
    ``bench/gc_probe.py``, which writes every garbage collection's pause there at exit; with
    ``import_times`` under ``bench/import_probe.py``, which writes every module's import CPU.
    """
    command = command or Path(sys.executable).parent / "ai-bot"
    if not command.exists():
        raise BenchError(f"{command} not found: install the project first (pip install -e .)")
    port = port or free_port()
    config = write_config(tmp, port, fake_url, extra)
    log = tmp / "gateway.log"
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    argv: list[str | Path] = [command, "run", "-c", str(config)]
    if gc_pauses is not None:
        argv = [command.parent / "python", GC_PROBE, gc_pauses, *argv[1:]]
    elif import_times is not None:
        argv = [command.parent / "python", IMPORT_PROBE, import_times, *argv[1:]]
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=tmp, env=child_env(), stdout=out, stderr=out
        )
    children.append(proc)
    deadline = started + HEALTH_TIMEOUT
    while time.perf_counter() < deadline:
        if proc.returncode is not None:
            raise BenchError(
                f"gateway exited with code {proc.returncode} before becoming healthy: {tail(log)}"
            )
        try:
            async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.01)
    raise BenchError(f"gateway did not become healthy within {HEALTH_TIMEOUT:g} s: {tail(log)}")


def add_fresh_postgres(
    parser: argparse.ArgumentParser, what: str, instead: str = "a new SQLite file"
) -> None:
    """`--fresh-postgres [ADMIN_URL]`: `what` runs on a new database of that server instead
    of `instead` (see `fresh_database`)."""
    parser.add_argument(
        "--fresh-postgres",
        nargs="?",
        const=PG_ADMIN_URL,
        metavar="ADMIN_URL",
        help=f"{what} on a new database of that PostgreSQL server (default {PG_ADMIN_URL}), "
        f"dropped after it, instead of {instead}",
    )


async def fresh_database(args: argparse.Namespace, stack: contextlib.AsyncExitStack) -> str | None:
    """With `--fresh-postgres`, the URL of a new database dropped when ``stack`` closes."""
    if not args.fresh_postgres:
        return None
    url: str = await stack.enter_async_context(fresh_postgres(args.fresh_postgres))
    return url


async def fresh_store(args: argparse.Namespace, stack: contextlib.AsyncExitStack) -> JSON | None:
    """The config's `storage:` on `fresh_database`'s; None for the default SQLite file."""
    url = await fresh_database(args, stack)
    return {"storage": {"url": url}} if url else None


async def store_config(
    args: argparse.Namespace, tmp: Path, stack: contextlib.AsyncExitStack
) -> JSON | None:
    """The `storage:` (and with replicas `redis:`) keys the options ask for, on top of the
    default SQLite file: a fresh PostgreSQL database and a private Redis are made here and
    removed when ``stack`` closes."""
    storage: JSON = {}
    extra: JSON = {}
    url = await fresh_database(args, stack) or args.storage_url
    if url:
        storage["url"] = url
    if args.encrypt:
        storage["encryption"] = {"key": base64.b64encode(os.urandom(32)).decode()}
    if args.replicas:
        redis_url = args.redis_url or await stack.enter_async_context(
            private_redis(free_port(), tmp / "redis.log")
        )
        extra["redis"] = {"url": redis_url}
    if storage:
        extra["storage"] = storage
    return extra or None


async def reference_config(
    args: argparse.Namespace, replicas: JSON | None, stack: contextlib.AsyncExitStack
) -> JSON | None:
    """With ``--reference``: the config of one process without Redis on a fresh database of
    its own on the same PostgreSQL (the replicas' conversations stay theirs), with the
    replicas' encryption setting; None without it."""
    if not args.reference or replicas is None:
        return None
    storage: JSON = dict(replicas["storage"])
    storage["url"] = await stack.enter_async_context(fresh_postgres(args.fresh_postgres))
    return {"storage": storage}
