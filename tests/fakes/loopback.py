"""One aiohttp app served on a free 127.0.0.1 port: the shared plumbing of test servers."""

from __future__ import annotations

from aiohttp import web


class LoopbackServer:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serves `app` (port 0: a free one) and returns its `http://HOST:PORT` base URL.

        The short shutdown timeout keeps a deliberately hanging handler from holding up the end
        of a test.
        """
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
