"""Cold start (issue 20): the JSON APIs' body models are built at their first use.

A started gateway answers `/healthz` with none of them built (`channels/http_bodies.py` `Body`);
the first REST message builds the request's model, and the refusals' shapes, which only
describe answers in the OpenAPI document, stay unbuilt. Read in a fresh interpreter: stable on
any machine, unlike a time.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.support.net import free_port
from tests.support.probes import probe

PROBE = """
import asyncio, json, sys
import httpx
from aibot.cli.common import load_or_exit
from aibot.channels.http_api import openai_errors, rest
from aibot.channels import http_bodies, uploads
from aibot.gateway.asgi import create_app

MODELS = (rest.ChatBody, rest.ChatReply, uploads.AttachmentBody, http_bodies.ErrorBody,
          openai_errors.OpenAIErrorBody)
app = create_app(load_or_exit(sys.argv[1]))
seen = []

async def main():
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            for method, path, body in (("GET", "/healthz", None), ("POST", "/api/v1/chat", {})):
                headers = {"Authorization": "Bearer test-key"}
                answer = await c.request(method, path, json=body, headers=headers)
                built = [m.__name__ for m in MODELS if m.__pydantic_complete__]
                seen.append([path, answer.status_code, built])

asyncio.run(main())
print(json.dumps(seen))
"""


def test_a_started_gateway_builds_a_body_model_at_its_first_use(tmp_path: Path) -> None:
    config = {
        "server": {"host": "127.0.0.1", "port": free_port()},
        "storage": {"url": f"sqlite:///{tmp_path / 'ai-bot.db'}"},
        "channels": {"api": {"keys": ["test-key"]}},
        "models": {
            "default": "fake",
            "providers": {"fake": {"base_url": "http://127.0.0.1:9/v1", "api_key": "x"}},
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = probe(PROBE, tmp_path, str(tmp_path / "config.yaml"))
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        ["/healthz", 200, []],
        ["/api/v1/chat", 422, ["ChatBody"]],  # {} has no session_id: validated, refused
    ]
