"""Loopback ports for servers a test starts.

`free_port` hands out ports below the kernel's ephemeral range, so a port it chose is never
taken meanwhile by a socket the kernel numbers itself (a fake server on port 0, an outgoing
connection, another engineer's run). Under pytest-xdist each worker draws only ports of its own
residue (port % workers), so two workers of one run never hand out the same port.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

LOWEST = 10_000
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _worker_slot() -> tuple[int, int]:
    """(this worker's index, number of workers); (0, 1) outside pytest-xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return int(worker.removeprefix("gw")) % count, count


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds now and that this test process has not handed
    out before; the caller binds it right away."""
    index, count = _worker_slot()
    candidates = range(LOWEST + index, _ephemeral_start(), count)
    for _ in range(1000):
        port = random.choice(candidates)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free loopback port among {len(candidates)} tried at random")
