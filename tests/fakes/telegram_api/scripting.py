"""What a test scripts for the next calls of a method: fail, hang or drop (``script``)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.telegram_api.protocol import BLOCKED, JSON, MIGRATED, _default_description


@dataclass(frozen=True, slots=True)
class Fail:
    """Answer with Telegram's error envelope (HTTP status = ``error_code``), or raw ``body``."""

    error_code: int
    description: str | None = None
    parameters: JSON | None = None
    body: bytes | None = None  # e.g. nginx's HTML page, as a real 502 sometimes is
    content_type: str = "text/html"

    @classmethod
    def flood(cls, retry_after: int = 1) -> Fail:
        """429 ``Too Many Requests: retry after N`` with ``parameters.retry_after``."""
        return cls(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )

    @classmethod
    def blocked(cls) -> Fail:
        """403 ``Forbidden: bot was blocked by the user``."""
        return cls(403, BLOCKED)

    @classmethod
    def migrated(cls, new_chat_id: int) -> Fail:
        """400 group-upgraded error with ``parameters.migrate_to_chat_id``."""
        return cls(400, MIGRATED, {"migrate_to_chat_id": new_chat_id})

    @classmethod
    def bad_gateway(cls, *, html: bool = False) -> Fail:
        """502; ``html=True`` answers nginx's page instead of JSON."""
        page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n"
        return cls(502, "Bad Gateway", body=page if html else None)

    @classmethod
    def of(cls, code: int) -> Fail:
        """Telegram's usual error for ``code`` (429 → retry_after 1, 403 → blocked, ...)."""
        return cls.flood(1) if code == 429 else cls(code, _default_description(code))


@dataclass(frozen=True, slots=True)
class Hang:
    """Wait ``seconds`` before handling the call normally (to exercise client timeouts)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Drop:
    """Close the connection without answering."""


Action = Fail | Hang | Drop
