"""Getting an access token from a running gateway, as an integrator's client does."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.gateway import RunningGateway


async def access_token(
    http: aiohttp.ClientSession, gw: RunningGateway, scope: str | None = None
) -> str:
    """Exchanges the gateway's API key for a token (of `scope`, or the key's own)."""
    body: dict[str, Any] = {} if scope is None else {"scope": scope}
    async with http.post(f"{gw.url}/api/v1/token", json=body, headers=gw.headers) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Cache-Control"] == "no-store"
        answer = await response.json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] > 0
    return str(answer["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
