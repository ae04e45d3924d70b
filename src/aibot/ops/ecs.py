"""Log lines in Elastic Common Schema (`logging.format: ecs`), for Filebeat → Elasticsearch →
Kibana: the masked event dict is mapped to ECS field names, then rendered by the `ecs-logging`
library's structlog formatter (which adds `ecs.version` and turns an exception into
`error.stack_trace`).

Mapped: `timestamp` → `@timestamp`, `event` → `message`, `level` → `log.level`, `logger` →
`log.logger`, `request_id` → `trace.id` (the `x-request-id` of an API answer), `ms` →
`event.duration` (nanoseconds), `error` → `error.message`, a user id → `user.id` as a stable
pseudonym (`u-` and 12 hex digits of its SHA-256: lines of one user still group together, the
id itself never reaches the log store). Every other field goes under `aibot.` so it cannot
clash with an ECS name.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping
from typing import Any

from ecs_logging import StructlogFormatter

from aibot import __version__

_USER_FIELDS = ("user_id", "user")
_RENAMED = {"request_id": ("trace", "id"), "logger": ("log", "logger")}


def pseudonym(user: str) -> str:
    return "u-" + hashlib.sha256(user.encode()).hexdigest()[:12]


def ecs_fields(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The event with ECS names; runs after the masker, before `render`."""
    out: dict[str, Any] = {
        "event": event.pop("event", ""),
        "service": {"name": "ai-bot", "version": __version__},
        "event.dataset": "aibot.gateway",
    }
    stamp = event.pop("timestamp", None)
    if stamp is not None:
        out["@timestamp"] = str(stamp)
    level = event.pop("level", None)
    if level is not None:
        out["log"] = {"level": str(level)}
    for name, (group, field) in _RENAMED.items():
        if name in event:
            out.setdefault(group, {})[field] = event.pop(name)
    if isinstance(event.get("ms"), int | float):
        out["event.duration"] = int(event.pop("ms") * 1_000_000)
    for name in _USER_FIELDS:
        if isinstance(event.get(name), str):
            out["user"] = {"id": pseudonym(event.pop(name))}
            break
    if isinstance(event.get("error"), str):
        out["error"] = {"message": event.pop("error")}
    if "exception" in event:
        out["exception"] = event.pop("exception")
    if event:
        out["aibot"] = dict(event)
    return out


# ensure_ascii=False: Chinese stays readable in the file and in Kibana.
render = StructlogFormatter(ensure_ascii=False)
