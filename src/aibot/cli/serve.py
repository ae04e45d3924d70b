"""`ai-bot run`: the uvicorn server around the gateway app."""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

from aibot.app import create_app
from aibot.cli.common import fail
from aibot.config import ConfigError, LoadedConfig
from aibot.ops.logging import SecretMasker, configure_logging


def serve(loaded: LoadedConfig) -> None:
    config = loaded.config

    configure_logging(config.logging.level, config.logging.format,
                      SecretMasker(config.secrets()))
    try:
        app = create_app(loaded)
    except ConfigError as exc:
        fail(str(exc))
    server = uvicorn.Server(uvicorn.Config(
        app, host=config.server.host, port=config.server.port, log_config=None,
        access_log=False, proxy_headers=False, server_header=False,
        timeout_graceful_shutdown=30, ws_max_size=config.server.max_body_bytes,
    ))
    # uvicorn re-raises the signal it stopped on once shutdown is complete; a SIGTERM that ended
    # in a clean, drained shutdown should exit 0 so supervisors don't report a failure.
    signal.signal(signal.SIGTERM, _exit_after_clean_shutdown)
    server.run()
    if not server.started:
        fail(f"the gateway could not start on {config.server.host}:{config.server.port} "
             "(port in use? see the log above)", code=1)


def _exit_after_clean_shutdown(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)
