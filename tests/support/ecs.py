"""What makes a log line an Elastic Common Schema document, as Elasticsearch's ECS templates
and Kibana read it: the base fields, ECS field sets at the top level only (custom fields under
our own `aibot.` namespace), and the types of the fields the gateway maps."""

from __future__ import annotations

import re
from typing import Any

import orjson

ECS_TOP_LEVEL = {
    "@timestamp",
    "message",
    "ecs",
    "log",
    "event",
    "service",
    "trace",
    "user",
    "error",
    "labels",
    "host",
    "process",
    "aibot",  # ours: custom fields go under a namespace of their own
}
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
LEVELS = {"debug", "info", "warning", "error", "critical"}


def expand(document: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys (`log.level`) nested, as Elasticsearch and Filebeat's expand_keys do."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        target = out
        *parents, leaf = key.split(".") if key != "@timestamp" else [key]
        for part in parents:
            target = target.setdefault(part, {})
        if isinstance(value, dict) and isinstance(target.get(leaf), dict):
            target[leaf].update(expand(value))
        else:
            target[leaf] = expand(value) if isinstance(value, dict) else value
    return out


def ecs_problems(line: str) -> list[str]:
    """Why `line` is not an ECS document ([] when it is)."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(raw, dict):
        return ["not a JSON object"]
    doc = expand(raw)
    problems = [f"field set {k!r} is not ECS" for k in doc if k not in ECS_TOP_LEVEL]
    if not _TIMESTAMP.match(str(doc.get("@timestamp", ""))):
        problems.append("@timestamp missing or not ISO 8601")
    if not isinstance(doc.get("message"), str):
        problems.append("message missing")
    if doc.get("log", {}).get("level") not in LEVELS:
        problems.append("log.level missing or unknown")
    if not isinstance(doc.get("ecs", {}).get("version"), str):
        problems.append("ecs.version missing")
    duration = doc.get("event", {}).get("duration")
    if duration is not None and not isinstance(duration, int):
        problems.append("event.duration is not nanoseconds (an integer)")
    for group, field in (("trace", "id"), ("user", "id"), ("error", "message")):
        value = doc.get(group, {}).get(field)
        if group in doc and not isinstance(value, str):
            problems.append(f"{group}.{field} is not a string")
    return problems
