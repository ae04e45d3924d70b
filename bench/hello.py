"""The reference the benchmark measures the gateway against: a bare uvicorn "hello" app.

Why: absolute messages/s on a shared 2-core box swing by 2× from run to run, so the benchmark
reports each path as a fraction of what the same machine, client and uvicorn setup (uvloop,
httptools, no access log, no server header — as `ai-bot run` starts it) do with no work at all,
measured in the same run. The app reads the request body and answers a small JSON object, so
the client does the same work for both.

    python bench/hello.py --port 0      # prints `ready http://127.0.0.1:<port>` once listening
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ANSWER = b'{"reply":"hello"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Drain the body, answer 200 with a fixed JSON object."""
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A bare uvicorn hello app (bench reference).")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    sock = socket.socket()
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(
        app, log_config=None, access_log=False, server_header=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    print(f"ready http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
