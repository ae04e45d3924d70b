"""What an archived object is: its name in the bucket and its bytes.

One object per conversation and UTC day (a very long day is split by turn ids), named by a hash
of the session key so user ids never appear in object names:
`<prefix>conversations/<h[:2]>/<h>/<day>.<first id>-<last id>.jsonl.gz`. The name is a function
of the turns it holds and the bytes are deterministic (gzip without a timestamp), so archiving
the same turns again after a crash writes the identical object under the identical name.

The JSON Lines start with a header line, then one line per turn with every column of its row,
values exactly as stored (sealed values stay sealed: a bucket of an encrypted store holds no
message text either).
"""

from __future__ import annotations

import gzip
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

FORMAT = "ai-bot-archive/1"
TURN_COLUMNS = (
    "id",
    "session_key",
    "role",
    "content",
    "reasoning",
    "provider",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "request_id",
    "created_at",
    "route",
)


class DamagedObject(ValueError):
    """The bytes are not an archive object this version can read."""


@dataclass(frozen=True)
class Packed:
    key: str
    data: bytes
    day: str
    rows: list[dict[str, Any]]


def day_of(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def session_hash(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def object_key(prefix: str, session_key: str, day: str, first_id: int, last_id: int) -> str:
    h = session_hash(session_key)
    return f"{prefix}conversations/{h[:2]}/{h}/{day}.{first_id}-{last_id}.jsonl.gz"


def pack(prefix: str, session_key: str, rows: list[dict[str, Any]]) -> Packed:
    """`rows`: turns of one session and day, in id order."""
    day = day_of(rows[0]["created_at"])
    header = {"format": FORMAT, "session_key": session_key, "day": day, "turns": len(rows)}
    lines = [orjson.dumps(header), *(orjson.dumps({c: r[c] for c in TURN_COLUMNS}) for r in rows)]
    data = gzip.compress(b"\n".join(lines) + b"\n", mtime=0)
    key = object_key(prefix, session_key, day, rows[0]["id"], rows[-1]["id"])
    return Packed(key, data, day, rows)


def unpack(data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        header, *turns = (orjson.loads(line) for line in gzip.decompress(data).splitlines())
    except (OSError, EOFError, orjson.JSONDecodeError, ValueError) as exc:
        raise DamagedObject(f"not an archive object ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DamagedObject(f"unknown archive format {header!r:.80}")
    if len(turns) != header.get("turns"):
        raise DamagedObject("the object holds fewer turns than its header says")
    return header, turns


def manifest_key(prefix: str, now: float, runner: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{prefix}manifests/{stamp}-{runner}.json"
