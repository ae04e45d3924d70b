"""GraphiQL on `GET /graphql`: absent by default; with `channels.api.graphiql: true` a page
whose every script and style comes from the gateway itself, under a CSP without inline scripts,
that grants nothing (queries still need a key or token)."""

from __future__ import annotations

import re

import aiohttp

from tests.support.gateway import GatewayFactory

HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_graphiql_is_off_by_default(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gw.url}/graphql", headers=HTML) as response:
            assert response.status == 405
            assert "<html" not in (await response.text()).lower()
        async with http.get(f"{gw.url}/graphql/assets/graphiql.min.js") as response:
            assert response.status in (404, 405)


async def test_graphiql_page_loads_only_its_own_files(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({"channels": {"api": {"graphiql": True}}})
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gw.url}/graphql", headers=HTML) as response:
            assert response.status == 200
            page = await response.text()
            csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        references = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert len(references) == 6
        assert all(ref.startswith("/graphql/assets/") for ref in references), references
        assert re.search(r"<script>", page) is None  # no inline script
        for ref in references:
            async with http.get(gw.url + ref) as asset:
                assert asset.status == 200, ref
        async with http.get(f"{gw.url}/graphql", headers={"Accept": "application/json"}) as r:
            assert r.status == 405  # only a browser gets the page
        async with http.post(f"{gw.url}/graphql", json={"query": "{ __typename }"}) as response:
            assert response.status == 401  # the page opens nothing
        async with http.post(
            f"{gw.url}/graphql", json={"query": "{ __typename }"}, headers=gw.headers
        ) as response:
            assert (await response.json()) == {"data": {"__typename": "Query"}}
