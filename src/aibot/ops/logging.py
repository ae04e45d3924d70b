"""Structured logs (JSON in production, readable on a terminal) that never print a secret.

Masking happens in the last processor before rendering, so it covers every logger, every field
and exception text: configured secret values are replaced wherever they appear, fields whose
names look secret are hidden, token-shaped strings (sk-…, Bearer …) are cut down, and personal
data (phone, e-mail, ID-card and bank-card numbers) is replaced by its kind.

With `logging.file` set, the lines go as JSON to that file, rotated by size or daily by the
standard library's handlers, instead of to stderr.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from aibot.ops.file_modes import private_file
from aibot.ops.pii import mask_pii

if TYPE_CHECKING:
    from aibot.config import LoggingConfig

_SECRET_FIELD = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|cookie)", re.I)
_TOKEN_SHAPES = re.compile(
    r"(?P<prefix>Bearer\s+|sk-|sk_|xox[abp]-)(?P<body>[A-Za-z0-9._\-]{6,})", re.I
)
# Every datum mask_pii knows has an `@` or seven digits in a row, give or take single spaces or
# dashes between them; strings without one skip its patterns.
_PII_HINT = re.compile(r"@|\d(?:[ -]?\d){6}")
# Fields the gateway writes itself whose digits are never personal data.
_NOT_PII = frozenset({"timestamp", "request_id", "level", "logger"})


class SecretMasker:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret containing another is masked whole.
        merged = {s for s in (*self._secrets, *secrets) if s and len(s) >= 6}
        self._secrets = sorted(merged, key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets masked, longest first."""
        return tuple(self._secrets)

    def mask_configured(self, text: str) -> str:
        """Only the configured secrets (chat replies keep token-shaped words a user wrote)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, mask_value(secret))
        return text

    def mask_text(self, text: str) -> str:
        text = self.mask_configured(text)
        return _TOKEN_SHAPES.sub(lambda m: m.group("prefix") + m.group("body")[:2] + "***", text)

    def mask_strings(self, value: Any) -> Any:
        """`value` with secrets masked in every string inside it: what /readyz and the console
        show of errors (which may quote a URL holding a token, or a key an upstream echoed)."""
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, dict):
            return {k: self.mask_strings(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_strings(v) for v in value]
        return value

    def mask(self, value: Any, key: str = "", *, pii: bool = False) -> Any:
        """Secrets always; personal data too with `pii` (log lines, not doctor's own output)."""
        if isinstance(value, str):
            if key and _SECRET_FIELD.search(key):
                return mask_value(value)
            value = self.mask_text(value)
            if pii and _PII_HINT.search(value):
                return mask_pii(value, field=key)  # `message_id=…` names an id, not a card
            return value
        if isinstance(value, dict):
            return {k: self.mask(v, str(k), pii=pii) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(v, key, pii=pii) for v in value]
        return value

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = self.mask(value, "" if key == "event" else key, pii=key not in _NOT_PII)
        return event


def mask_value(secret: str) -> str:
    """Keeps a short prefix so an operator can tell which key was meant, never enough to use it."""
    return (secret[:3] + "***") if len(secret) > 8 else "***"


def _json_dumps(value: Any, **_kw: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _PrivateFile(logging.FileHandler):
    """Log lines quote users and errors: the file, and each one rotation starts, is 0600."""

    def _open(self) -> Any:
        private_file(Path(self.baseFilename))
        return super()._open()


class _DailyFileHandler(_PrivateFile, logging.handlers.TimedRotatingFileHandler):
    pass


class _SizeRotatingFileHandler(_PrivateFile, logging.handlers.RotatingFileHandler):
    """The stdlib handler formats every record twice, once only to measure it; here the
    formatter (masking and JSON, the expensive part) runs once per line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            if self.stream is None:
                self.stream = self._open()
            # A line longer than max_bytes still goes into a fresh file rather than looping.
            if self.stream.tell() and self.stream.tell() + len(line) >= self.maxBytes:
                self.doRollover()
            self.stream.write(line)
            self.flush()
        except Exception:
            self.handleError(record)


def _handler(settings: LoggingConfig | None) -> logging.Handler:
    """stderr, or the rotating file `logging.file` names (its directory is created)."""
    if settings is None or not settings.file:
        return logging.StreamHandler(sys.stderr)
    path = Path(settings.file)
    if settings.rotate == "daily":
        return _DailyFileHandler(
            path, when="midnight", backupCount=settings.backups, encoding="utf-8", utc=True
        )
    return _SizeRotatingFileHandler(
        path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8"
    )


def configure_logging(
    level: str, fmt: str, masker: SecretMasker, settings: LoggingConfig | None = None
) -> None:
    """`settings` adds the file and rotation options of the `logging:` section."""
    to_file = settings is not None and bool(settings.file)
    ecs = fmt == "ecs"
    use_json = ecs or to_file or fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_dumps)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    rendering: list[Any] = [renderer]
    if ecs:
        from aibot.ops.ecs import ecs_fields, render

        rendering = [ecs_fields, render]
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
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, masker, *rendering],
    )
    handler = _handler(settings)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
