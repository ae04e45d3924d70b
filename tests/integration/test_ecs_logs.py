"""`logging.format: ecs` on a running gateway: every line it writes — start-up, uvicorn, a
handled message, a refused request — is an Elastic Common Schema document, the message line
carries trace.id, event.duration and a pseudonymous user.id, and no user id or key appears."""

from __future__ import annotations

import aiohttp
import orjson

from tests.support.ecs import ecs_problems, expand
from tests.support.gateway import GatewayFactory


async def test_every_log_line_is_ecs(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({"logging": {"format": "ecs", "level": "debug"}})
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{gw.url}/api/v1/chat",
            json={"session_id": "ecs-1", "message": "你好", "user_id": "alice@example.com"},
            headers=gw.headers,
        ) as response:
            assert response.status == 200
        async with http.get(f"{gw.url}/v1/models") as response:
            assert response.status == 401
    await gw.stop()
    lines = [line for line in gw.log().splitlines() if line.strip()]
    assert len(lines) > 3
    for line in lines:
        assert ecs_problems(line) == [], line
    documents = [expand(orjson.loads(line)) for line in lines]
    [handled] = [d for d in documents if d["message"] == "message handled"]
    assert handled["trace"]["id"] and handled["event"]["duration"] > 0
    assert handled["service"]["name"] == "ai-bot" and handled["aibot"]["channel"] == "api"
    assert "alice@example.com" not in gw.log() and gw.api_key not in gw.log()
