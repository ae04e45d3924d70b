"""Cold start (issue 20): what the first request does not need is not imported at start.

`ai-bot run`'s start-up time and idle memory are mostly imports. The heavy libraries below are
each needed by one feature only — the GraphQL endpoint, the admin console's pages, encryption
at rest, access tokens, one channel, one store back end, the media readers — and are imported
when that feature is first used. The gateway is started here as `ai-bot run` starts it (the
command module, the serve module, the app and its lifespan) in a fresh interpreter and answers
`/healthz` and `/readyz` (which reads the store), and the check is which modules are loaded:
stable on any machine, unlike a time. `ai-bot run` also leaves the CLI's other commands alone
(aibot.cli.main).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import API_KEY, base_config, deep_merge, gateway_env
from tests.support.net import free_port
from tests.support.probes import probe

# Not loaded by a gateway that has started and answered nothing yet.
HEAVY = (
    # every route but the probes and the per-message endpoints (gateway/lazy_app.py)
    "fastapi",
    "aibot.admin.routes",  # the admin console
    "strawberry",  # /graphql
    "graphql",
    "jinja2",  # the admin console's pages
    "jwt",  # access tokens
    "cryptography.hazmat.primitives.ciphers.aead",  # encryption at rest
    # Telegram's formatting (its markdown_it is also pulled in by typer's rich help, which the
    # CLI sets up in its language at every start: aibot/cli/help_text.py)
    "aibot.channels.telegram.format",
    "defusedxml",  # WeCom
    "ruamel.yaml",  # editing config.yaml from the console
    # SQLAlchemy itself on a SQLite file: the store is opened, checked and read with plain
    # sqlite3 until the gateway serves (store/database.py); the first statement, or the
    # warm-up once serving, imports it
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",  # the other store back ends
    "sqlalchemy.dialects.mysql",
    # SQLAlchemy's asyncio extension, the ORM its package imports, and aiosqlite: SQLite runs
    # on core's synchronous engine (store/database.py), the extension serves PostgreSQL/MySQL
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "aiosqlite",
    "alembic",  # migrations of an existing database
    "mcp",  # MCP tool servers
    "opencc",  # folding Chinese text for word lists and the answer cache
    "PIL",  # media
    "pypdf",
    "docx",
    "openpyxl",
    "babel",  # a translation catalog, read at the first string shown in another language
    "argon2",  # the admin console's passwords, at the first one hashed or checked
    "aiohttp",  # the first outbound call (tests/integration/test_lazy_http_client.py)
    # anyio's asyncio backend: the config watch waits in a thread of its own, not through
    # watchfiles' `awatch` (aibot/config/watch.py)
    "anyio._backends._asyncio",
    "dotenv",  # a .env file's reader, imported where there is one (none here)
)

PROBE = """
import asyncio, json, sys
import aibot.cli.main
from aibot.cli import serve
from aibot.cli.common import load_or_exit
from aibot.gateway.asgi import create_app

app = create_app(load_or_exit(sys.argv[1] or None))

async def get(path, *headers):
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))

async def start_and_stop():
    async with app.lifespan():
        assert (await get("/healthz"))[0] == 200
        # reads the store (503 here: no model), in English: a catalog is read at first use
        assert (await get("/readyz", (b"accept-language", b"en")))[1]["store"]["ok"]

asyncio.run(start_and_stop())
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


def started_modules(workdir: Path, config: dict[str, Any] | None) -> list[str]:
    path = ""
    if config is not None:
        (workdir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        path = str(workdir / "config.yaml")
    result = probe(PROBE, workdir, path, json.dumps(HEAVY))
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


# The generic webhook channel: a gateway with a channel that takes webhooks builds its routes
# (and imports FastAPI) while starting, since platforms time their callbacks (gateway/asgi.py).
WEBHOOK_CHANNEL = {"webhook": {"callback_url": "https://integrator.example.com/replies"}}


@pytest.mark.parametrize(
    "channels",
    [None, {}, WEBHOOK_CHANNEL],
    ids=["no config file", "bench config", "webhook channel"],
)
def test_a_started_gateway_has_not_imported_what_only_some_features_need(
    tmp_path: Path, channels: dict[str, Any] | None
) -> None:
    config = None
    if channels is not None:
        config = {
            "server": {"host": "127.0.0.1", "port": free_port()},
            "storage": {"url": f"sqlite:///{tmp_path / 'ai-bot.db'}"},
            "channels": {"api": {"keys": ["test-key"]}, **channels},
            "models": {
                "default": "fake",
                "providers": {
                    "fake": {"base_url": "http://127.0.0.1:9/v1", "api_key": "x", "model": "m"}
                },
            },
        }
    # The full app registers SQLAlchemy's errors with FastAPI by class (gateway/errors.py).
    webhooks = ["aibot.admin.routes", "fastapi", "sqlalchemy"]
    expected = webhooks if channels == WEBHOOK_CHANNEL else []
    assert started_modules(tmp_path, config) == expected


# The modules of `ai-bot`'s other commands: `ai-bot run` neither imports nor builds them.
OTHER_COMMANDS = (
    "aibot.cli.admin",
    "aibot.cli.archive",
    "aibot.cli.backup",
    "aibot.cli.canary",
    "aibot.cli.chat",
    "aibot.cli.config_view",
    "aibot.cli.data_key",
    "aibot.cli.deploy",
    "aibot.cli.doctor",
    "aibot.cli.eval",
    "aibot.cli.init",
    "aibot.cli.pairing",
    "aibot.cli.commands",
)

RUN_PROBE = """
import json, sys
watched = json.loads(sys.argv[2])
sys.argv = ["ai-bot", "run", "--config", sys.argv[1]]
from aibot.cli.main import main
try:
    main()
except SystemExit as exc:
    print(exc.code)
print(json.dumps(sorted(m for m in watched if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "watched",
    [OTHER_COMMANDS, ("aibot.cli.serve", "aibot.gateway.asgi", "uvicorn")],
    ids=["other commands", "the server"],
)
def test_a_refused_config_stops_run_before_other_commands_and_the_server(
    tmp_path: Path, watched: tuple[str, ...]
) -> None:
    """Refused config: `run` stops after loading it, with its own modules loaded and none of
    the other commands' nor the server's (the refusal is said without waiting for them)."""
    (tmp_path / "config.yaml").write_text("server:\n  port: 99999999\n", encoding="utf-8")
    result = probe(RUN_PROBE, tmp_path, str(tmp_path / "config.yaml"), json.dumps(watched))
    assert "server.port" in result.stderr
    code, loaded = result.stdout.strip().splitlines()[-2:]
    assert (code, json.loads(loaded)) == ("2", [])


# The app in front answers the probes and the per-message endpoints itself; FastAPI and the
# admin console are imported by the first request for anything else (gateway/lazy_app.py).
FRONT_PROBE = """
import asyncio, json, sys
import httpx
from aibot.cli.common import load_or_exit
from aibot.gateway.asgi import create_app

app = create_app(load_or_exit(sys.argv[1]))
KEY = {"Authorization": "Bearer " + sys.argv[2]}
LATE = ("fastapi", "aibot.admin.routes", "aibot.gateway.full_app")
seen = []

def step(name, response):
    seen.append([name, response.status_code, [m for m in LATE if m in sys.modules]])

async def main():
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            step("start", httpx.Response(0))
            step("/healthz", await c.get("/healthz"))
            step("/readyz", await c.get("/readyz"))
            step("/metrics", await c.get("/metrics"))
            chat = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
            v1 = "/v1/chat/completions"
            step(v1, await c.post(v1, json=chat, headers=KEY))
            rest = {"session_id": "s-1", "message": "hi"}
            step("/api/v1/chat", await c.post("/api/v1/chat", json=rest, headers=KEY))
            step(sys.argv[3], await c.get(sys.argv[3]))

asyncio.run(main())
print(json.dumps(seen))
"""


@pytest.mark.parametrize("first_other", ["/admin/login", "/docs"])
async def test_probes_and_messages_are_answered_before_fastapi_is_imported(
    tmp_path: Path, fake_llm: FakeOpenAI, first_other: str
) -> None:
    config = deep_merge(base_config(tmp_path, fake_llm), {"server": {"docs": True}})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FRONT_PROBE,
        str(tmp_path / "config.yaml"),
        API_KEY,
        first_other,
        cwd=tmp_path,
        env=gateway_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(probe.communicate(), timeout=120)
    assert probe.returncode == 0, err.decode()[-3000:]
    seen = json.loads(out.decode().strip().splitlines()[-1])
    late = ["fastapi", "aibot.admin.routes", "aibot.gateway.full_app"]
    assert seen == [
        ["start", 0, []],
        ["/healthz", 200, []],
        ["/readyz", 200, []],
        ["/metrics", 200, []],
        ["/v1/chat/completions", 200, []],
        ["/api/v1/chat", 200, []],
        [first_other, 200, late],
    ]


CHANNEL_PROBE = """
import json, sys
import aibot.channels.dingtalk.channel, aibot.channels.feishu.channel
import aibot.channels.telegram.channel, aibot.channels.webhook.channel
import aibot.channels.wecom.channel
print(json.dumps("fastapi" in sys.modules))
"""


def test_a_channel_imports_fastapi_only_for_its_webhook_route(tmp_path: Path) -> None:
    """Feishu's and DingTalk's long connections and Telegram's long poll take no webhook: the
    channels import their webhook module (and FastAPI) in `router()`, in webhook mode only."""
    result = probe(CHANNEL_PROBE, tmp_path)
    assert json.loads(result.stdout.strip().splitlines()[-1]) is False


SERVER_PROBE = """
import json, sys
from aibot.cli.serve import server_config
from aibot.config import Config

async def app(scope, receive, send):
    pass

server_config(app, Config()).load()
print(json.dumps([m for m in ("websockets", "uvicorn.protocols.websockets") if m in sys.modules]))
"""


def test_the_server_loads_its_websocket_protocol_at_the_first_upgrade(tmp_path: Path) -> None:
    """uvicorn's settings as `ai-bot run` loads them import no WebSocket implementation; the
    chat page's and GraphQL's WebSockets (tests/integration/test_webchat_ws.py,
    test_graphql.py) get it at their first upgrade."""
    result = probe(SERVER_PROBE, tmp_path)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
