"""Structured logs (JSON in production, readable on a terminal) that never print a secret.

Masking happens in the last processor before rendering, so it covers every logger, every field
and exception text: configured secret values are replaced wherever they appear, fields whose
names look secret are hidden, and token-shaped strings (sk-…, Bearer …) are cut down.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import orjson
import structlog

_SECRET_FIELD = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|cookie)", re.I)
_TOKEN_SHAPES = re.compile(
    r"(?P<prefix>Bearer\s+|sk-|sk_|xox[abp]-)(?P<body>[A-Za-z0-9._\-]{6,})", re.I
)


class SecretMasker:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret containing another is masked whole.
        merged = {s for s in (*self._secrets, *secrets) if s and len(s) >= 6}
        self._secrets = sorted(merged, key=len, reverse=True)

    def mask_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, mask_value(secret))
        return _TOKEN_SHAPES.sub(lambda m: m.group("prefix") + m.group("body")[:2] + "***", text)

    def mask(self, value: Any, key: str = "") -> Any:
        if isinstance(value, str):
            return mask_value(value) if key and _SECRET_FIELD.search(key) else self.mask_text(value)
        if isinstance(value, dict):
            return {k: self.mask(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(v, key) for v in value]
        return value

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = self.mask(value, "" if key == "event" else key)
        return event


def mask_value(secret: str) -> str:
    """Keeps a short prefix so an operator can tell which key was meant, never enough to use it."""
    return (secret[:3] + "***") if len(secret) > 8 else "***"


def _json_dumps(value: Any, **_kw: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(level: str, fmt: str, masker: SecretMasker) -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_dumps) if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_json:
        shared.append(structlog.processors.format_exc_info)
    numeric = getattr(logging, level.upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, masker, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("uvicorn.access", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
