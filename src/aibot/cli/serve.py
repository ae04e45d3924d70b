"""`ai-bot run`: the uvicorn server around the gateway app."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from aibot.cli.common import cipher_or_exit, fail, problem, tr
from aibot.cli.preflight import check_store
from aibot.config import Config, ConfigError, LoadedConfig
from aibot.gateway.asgi import create_app
from aibot.i18n import N_, terminal_language, translate
from aibot.ops.http_protocol import OneWriteProtocol
from aibot.ops.logging import SecretMasker, configure_logging
from aibot.store.crypto import Keyring

_BUSY = N_(
    "{address} is already in use — is ai-bot already running? Stop it, or choose another port "
    "(server.port or --port)."
)
_UNBINDABLE = N_("cannot listen on {address}: {reason} (check server.host)")


def serve(loaded: LoadedConfig) -> None:
    config = loaded.config

    configure_logging(
        config.logging.level, config.logging.format, SecretMasker(config.secrets()), config.logging
    )
    _check_port(config.server.host, config.server.port)
    cipher = cipher_or_exit(config)  # a malformed data key before the store is touched
    check_store(config.storage.url, cipher if isinstance(cipher, Keyring) else None)
    admin_port = config.admin.port if config.admin.enabled else None
    if admin_port == config.server.port:
        fail(
            tr("admin.port must differ from server.port (unset it to serve /admin on server.port)")
        )
    if admin_port is not None:
        _check_port(config.server.host, admin_port)
    try:
        app = create_app(loaded)
    except ConfigError as exc:
        fail(problem(exc))
    server = GatewayServer(server_config(app, config), serving=app.serving)
    # uvicorn re-raises the signal it stopped on once shutdown is complete; a SIGTERM that ended
    # in a clean, drained shutdown should exit 0 so supervisors don't report a failure.
    signal.signal(signal.SIGTERM, _exit_after_clean_shutdown)
    if admin_port is None:
        server.run()
        return
    # One server on both ports; the app keeps /admin and the rest apart (aibot.admin.port).
    server.run(
        sockets=[_listen(config.server.host, port) for port in (config.server.port, admin_port)]
    )


class GatewayServer(uvicorn.Server):
    """uvicorn's server, telling the app once it listens (`GatewayApp.serving`)."""

    def __init__(self, config: uvicorn.Config, *, serving: Callable[[], object]) -> None:
        super().__init__(config)
        self._serving = serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._serving()


def server_config(app: Any, config: Config) -> uvicorn.Config:
    """uvicorn's settings for the gateway's app."""
    return uvicorn.Config(
        app,
        host=config.server.host,
        port=config.server.port,
        http=OneWriteProtocol,  # an answer's head and body in one write (ops/http_protocol.py)
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=30,
        ws=WebSocketsAtFirstUpgrade,
        ws_max_size=config.server.max_body_bytes,
    )


class WebSocketsAtFirstUpgrade(asyncio.Protocol):
    """uvicorn's WebSocket protocol over websockets' sans-I/O implementation (what its
    `ws="auto"` picks: websockets comes with uvicorn[standard]), made by the first upgrade.
    Given a name, `uvicorn.Config.load` imports both while the server starts (~6 ms of CPU),
    and neither `/healthz` nor a message needs them, only the chat page's `/ws` and GraphQL's
    subscriptions do. uvicorn makes each upgrade's protocol by calling its class; this one
    hands back the real protocol's instance."""

    def __new__(cls, **kwargs: Any) -> Any:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )

        return WebSocketsSansIOProtocol(**kwargs)


def _exit_after_clean_shutdown(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _check_port(host: str, port: int) -> None:
    """One clear line when the address cannot be bound, instead of uvicorn's log and exit 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            language, address = terminal_language(), f"{host}:{port}"
            if exc.errno == errno.EADDRINUSE:
                fail(translate(language, _BUSY, address=address))
            fail(translate(language, _UNBINDABLE, address=address, reason=exc.strerror))
