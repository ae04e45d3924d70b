"""Sum a py-spy profile of the gateway per part of the message path, as bench/README.md's
"where the time goes" tables do.

    py-spy record --gil -r 200 -f raw -d 12 -p <gateway pid> -o stateless.raw
    python bench/profile_parts.py before.raw after.raw

Each sample counts once, for the innermost frame of its stack that belongs to a part (a
sample in `asyncio.create_task` called from the dispatcher is event-loop work; one in the
dispatcher's own lines is pipeline work). The parts are matched by file (and, for uvicorn's
socket writes, by line) in the order `PARTS` lists them. Shares are of each file's own
samples: an "after" file is a smaller whole, so a part that kept its cost grows in share.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# (part, pattern over one frame "function (file:line)"), the first match wins within a frame.
PARTS: tuple[tuple[str, str], ...] = (
    # uvicorn's transport.write calls (0.55: httptools_impl.py 522 head, 542 chunk, 549 body)
    # and the joined write that replaced them (ops/http_protocol.py).
    ("uvicorn: socket writes", r"httptools_impl\.py:(522|542|549)\)|_JoinedWrites\.write"),
    ("uvicorn: reading and parsing requests", r"uvicorn/"),
    ("outbound model call (aiohttp client)", r"aiohttp/|yarl/|multidict/"),
    ("provider code", r"aibot/providers/"),
    ("SQL", r"sqlalchemy/|aiosqlite/|sqlite3/|aibot/store/"),
    ("metrics", r"prometheus_client/|aibot/ops/metrics"),
    ("logging", r"structlog/|logging/"),
    ("event loop and task creation", r"asyncio/|runners\.py|concurrent/futures|threading\.py"),
    (
        "our edge layers (hot routes, Host check, proxies, body limit, secret mask)",
        r"aibot/gateway/|aibot/ops/(forwarded|host_check|body_limit|secret_guard|page_headers)",
    ),
    ("channel handlers (http_api, identity, keys)", r"aibot/channels/"),
    (
        "pipeline stages, service, dispatcher, handlers, policies",
        r"aibot/core/|aibot/policy/|aibot/media/|aibot/tools/|aibot/ops/",
    ),
    ("Starlette", r"starlette/"),
    ("pydantic", r"pydantic"),
)
_COMPILED = [(name, re.compile(pattern)) for name, pattern in PARTS]


def part_of(frames: list[str]) -> str:
    """The part of the innermost frame that belongs to one, else "other"."""
    for frame in reversed(frames):
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def parts(path: Path) -> tuple[Counter[str], int]:
    """Samples per part in one `py-spy -f raw` file (`frame;frame;… count` per line)."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        counts[part_of(stack.split(";"))] += int(count)
    return counts, total


def main(argv: list[str]) -> None:
    files = [Path(arg) for arg in argv]
    tables = [parts(path) for path in files]
    print("| part | " + " | ".join(path.name for path in files) + " |")
    print("| --- |" + " --- |" * len(files))
    for name in [*(name for name, _ in PARTS), "other"]:
        shares = [counts[name] * 100 / total if total else 0.0 for counts, total in tables]
        if any(shares):
            print(f"| {name} | " + " | ".join(f"{share:.1f} %" for share in shares) + " |")
    print("| samples | " + " | ".join(str(total) for _, total in tables) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
