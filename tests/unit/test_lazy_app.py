"""The full app is built by the first request that needs it (gateway/lazy_app.py): once, and a
build that fails is logged and answered with the app's plain 500, the next request trying again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from aibot.config import Config, LoadedConfig
from aibot.gateway import full_app
from aibot.gateway.asgi import create_app


async def test_a_failed_build_is_a_logged_500_and_the_next_request_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config.model_validate({"storage": {"url": f"sqlite:///{tmp_path / 'ai-bot.db'}"}})
    app = create_app(LoadedConfig(config=config, path=None))
    build = full_app.build_full_app
    calls: list[int] = []

    def failing_once(*args: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the console's templates are missing")
        return build(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(full_app, "build_full_app", failing_once)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
    async with app.lifespan(), client:
        with capture_logs() as logs:
            failed = await client.get("/admin/login")
        assert (failed.status_code, failed.text) == (500, "Internal Server Error")
        assert [e["event"] for e in logs if e["log_level"] == "error"] == [
            "building the gateway's routes failed"
        ]
        assert (await client.get("/healthz")).status_code == 200  # the front still serves
        assert (await client.get("/admin/login")).status_code == 200
        assert (await client.get("/docs")).status_code == 200
    assert len(calls) == 2  # built once after the failure, then kept
