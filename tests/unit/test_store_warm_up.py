"""A gateway on a SQLite file serves before SQLAlchemy is loaded (issue 20, cold start): the
store is opened, checked and read with plain sqlite3 while it starts, and the server, once it
listens, has SQLAlchemy loaded on a thread of its own (store/warm_up.py), the collector paused
meanwhile and what it made frozen after; the first message then finds it loaded, and one that
comes first loads it itself."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import uvicorn
import yaml
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from aibot.cli.serve import GatewayServer
from aibot.store.engine import create_engine
from aibot.store.warm_up import warm_up
from tests.support.gateway import API_KEY
from tests.support.probes import probe

WARM_UP = """
import asyncio, gc, json, sys
import httpx
import aibot.cli.main
from aibot.cli.common import load_or_exit
from aibot.gateway.asgi import create_app

app = create_app(load_or_exit(sys.argv[1]))
seen = {}

async def main():
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    async with app.lifespan(), http:
        seen["before"] = "sqlalchemy" in sys.modules
        frozen = gc.get_freeze_count()
        thread = app.serving()
        thread.join(60)
        seen["after"] = "sqlalchemy" in sys.modules
        seen["frozen"] = gc.get_freeze_count() > frozen
        seen["collector"] = gc.isenabled()
        answer = await http.post(
            "/api/v1/chat", json={"session_id": "s", "message": "hi"},
            headers={"Authorization": "Bearer " + sys.argv[2]},
        )
        seen["answer"] = answer.status_code

gc.enable()
asyncio.run(main())
print(json.dumps(seen))
"""

FIRST_MESSAGE = """
import asyncio, json, sys
import httpx
import aibot.cli.main
from aibot.cli.common import load_or_exit
from aibot.gateway.asgi import create_app

app = create_app(load_or_exit(sys.argv[1]))

async def main():
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    async with app.lifespan(), http:
        before = "sqlalchemy" in sys.modules
        answer = await http.post(
            "/api/v1/chat", json={"session_id": "s", "message": "hi"},
            headers={"Authorization": "Bearer " + sys.argv[2]},
        )
        history = await app.state.gateway.repository.load_session("api:s", 10)
        return before, answer.status_code, [t.role for t in history[1]]

print(json.dumps(asyncio.run(main())))
"""


def config_file(tmp_path: Path) -> str:
    config = {
        "storage": {"url": f"sqlite:///{tmp_path / 'data' / 'ai-bot.db'}"},
        "channels": {"api": {"keys": [API_KEY]}},
        "models": {
            "default": "fake",
            "providers": {"fake": {"base_url": "http://127.0.0.1:9/v1", "api_key": "x"}},
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def test_serving_loads_sqlalchemy_in_the_background_and_freezes_it(tmp_path: Path) -> None:
    result = probe(WARM_UP, tmp_path, config_file(tmp_path), API_KEY)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # 502: the model at port 9 is down; the message went through the store either way
    assert seen == {
        "before": False,
        "after": True,
        "frozen": True,
        "collector": True,
        "answer": 502,
    }


def test_a_message_before_the_warm_up_loads_it_itself(tmp_path: Path) -> None:
    result = probe(FIRST_MESSAGE, tmp_path, config_file(tmp_path), API_KEY)
    before, status, roles = json.loads(result.stdout.strip().splitlines()[-1])
    assert (before, status) == (False, 502)
    assert roles == []  # a failed model call stores no turn, but the inbox row was written


def test_nothing_to_warm_up_for_an_engine_made_with_sqlalchemy() -> None:
    assert warm_up(create_engine("sqlite://")) is None


async def test_the_server_says_it_serves_once_it_listens() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await PlainTextResponse("hello")(scope, receive, send)

    listening: list[bool] = []
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = GatewayServer(config, serving=lambda: listening.append(server.started))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if listening:
            break
        await asyncio.sleep(0.01)
    server.should_exit = True
    await task
    assert listening == [True]
