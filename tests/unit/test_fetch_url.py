"""fetch_url against a page served on loopback: what it reads, and every way to reach an inner
address that it refuses (literal addresses, names resolving inside, redirects to either)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from aibot.config import FetchConfig
from aibot.tools.base import ToolFailed
from aibot.tools.fetch import Address, Fetcher, refused_address
from tests.fakes.loopback import LoopbackServer

NAMES = {
    "public.test": ["127.0.0.1"],  # the loopback server stands for a public site
    "intranet.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "192.168.1.1"],
}
LOOPBACK = ipaddress.ip_address("127.0.0.1")


async def lookup(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise OSError("no such name")
    return NAMES[host]


def refused_but_the_test_site(address: Address) -> bool:
    return address != LOOPBACK and refused_address(address)


@pytest.fixture
async def site() -> AsyncIterator[int]:
    async def page(_request: web.Request) -> web.Response:
        html = "<html><head><style>p{}</style><title>T</title></head><body><p>Hello &amp; "
        return web.Response(
            text=html + "welcome</p><script>evil()</script><p>二</p></body></html>",
            content_type="text/html",
        )

    async def big(_request: web.Request) -> web.Response:
        return web.Response(text="x" * 5000, content_type="text/plain")

    async def binary(_request: web.Request) -> web.Response:
        return web.Response(body=b"\x00" * 10, content_type="application/octet-stream")

    def redirect(target: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(_request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(target)

        return handler

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/big", big)
    app.router.add_get("/binary", binary)
    app.router.add_get("/to-literal", redirect("http://10.1.2.3/admin"))
    app.router.add_get("/to-metadata", redirect("http://metadata.test/latest/meta-data/"))
    app.router.add_get("/to-page", redirect("/page"))
    server = LoopbackServer()
    url = await server.start(app)
    yield int(url.rsplit(":", 1)[1])
    await server.stop()


def fetcher(allowed: list[str], **config: int) -> Fetcher:
    return Fetcher(
        FetchConfig.model_validate({"allowed_hosts": allowed, **config}),
        lookup=lookup,
        refused=refused_but_the_test_site,
    )


async def test_reads_the_visible_text_of_an_allowed_page(site: int) -> None:
    text = await fetcher(["public.test"]).fetch(f"http://public.test:{site}/to-page")
    assert text == "T\nHello & welcome\n二"
    cut = await fetcher(["public.test"], max_bytes=1024).fetch(f"http://public.test:{site}/big")
    assert cut == "x" * 1024 + "\n…[cut]"
    with pytest.raises(ToolFailed, match="not a text page"):
        await fetcher(["public.test"]).fetch(f"http://public.test:{site}/binary")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/page",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/page",
        "http://[::ffff:127.0.0.1]:{port}/page",
        "http://10.0.0.1/",
    ],
)
async def test_refuses_inner_addresses_even_when_listed(site: int, url: str) -> None:
    listed = ["127.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "10.0.0.1"]
    strict = Fetcher(FetchConfig(allowed_hosts=listed), lookup=lookup)
    with pytest.raises(ToolFailed, match="not a public address"):
        await strict.fetch(url.format(port=site))


@pytest.mark.parametrize("host", ["intranet.test", "metadata.test", "mixed.test"])
async def test_refuses_a_name_resolving_inside(host: str) -> None:
    with pytest.raises(ToolFailed, match="not public"):
        await fetcher([host]).fetch(f"http://{host}/")


async def test_refuses_localhost_with_the_real_resolver(site: int) -> None:
    real = Fetcher(FetchConfig(allowed_hosts=["localhost"]))
    with pytest.raises(ToolFailed, match="not public"):
        await real.fetch(f"http://localhost:{site}/page")


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/to-literal", "not a public address"), ("/to-metadata", "not public")],
)
async def test_refuses_a_redirect_inside(site: int, path: str, reason: str) -> None:
    allowed = ["public.test", "metadata.test", "10.1.2.3"]
    with pytest.raises(ToolFailed, match=reason):
        await fetcher(allowed).fetch(f"http://public.test:{site}{path}")


async def test_refuses_hosts_not_listed_and_other_schemes(site: int) -> None:
    with pytest.raises(ToolFailed, match="allowed_hosts"):
        await fetcher(["example.com"]).fetch(f"http://public.test:{site}/page")
    for url in ["file:///etc/passwd", "ftp://public.test/", "http://u:p@public.test/"]:
        with pytest.raises(ToolFailed):
            await fetcher(["public.test"]).fetch(url)
