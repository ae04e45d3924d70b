"""The sections about the process itself: where it listens, how much it takes on at once, what it
logs, and the admin console it serves."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, field_validator

from aibot.config.base import Section, invalid, parse_duration
from aibot.i18n import N_


class ServerConfig(Section):
    host: str = Field("127.0.0.1", description=N_("Address to bind; 0.0.0.0 exposes the gateway."))
    port: int = Field(
        18789, ge=1, le=65535, description=N_("Gateway port (chat page, API, webhooks).")
    )
    public_url: str | None = Field(
        None, description=N_("Public https URL, used to register webhooks.")
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description=N_("Largest request body accepted.")
    )
    docs: bool = Field(
        True,
        description=N_(
            "Serve the API reference at /docs (Swagger UI from the package, no CDN); "
            "/openapi.json is served either way."
        ),
    )
    allowed_hosts: list[str] = Field(
        default=[],
        description=N_(
            "Host names requests may be addressed to (`Host`), besides the loopback "
            "names, public_url's host and the bound address; `*.example.com` for subdomains; "
            "`*`: any (no DNS-rebinding protection). Others get 421."
        ),
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description=N_(
            "Reverse proxies (IPs or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto "
            "are believed (client address for limits, lockout and audit; https behind TLS); "
            "empty: none, every peer is the client."
        ),
    )

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise invalid(
                    N_("not an IP address or network (CIDR): {value}"), value=repr(value)
                ) from None
        return values

    max_message_chars: int = Field(
        32_000,
        ge=100,
        le=10_000_000,
        description=N_(
            "Longest message accepted from any channel, in characters; a longer one "
            "is refused with a reply saying so and never stored whole."
        ),
    )

    @property
    def local_url(self) -> str:
        """How a command on this machine reaches the gateway (a wildcard bind via loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """Loopback binds are reachable only from this machine, so the web page may stay open."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class DispatcherConfig(Section):
    max_concurrency: int = Field(64, ge=1, description=N_("Sessions processed at the same time."))
    max_queue: int = Field(10000, ge=1, description=N_("Messages waiting before back-pressure."))


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description=N_("Lowest level written; info logs one line per message.")
    )
    format: Literal["auto", "console", "json", "ecs"] = Field(
        "auto",
        description=N_(
            "auto: readable on a terminal, JSON otherwise; ecs: JSON lines with "
            "Elastic Common Schema names (for Filebeat and Kibana)."
        ),
    )
    file: str | None = Field(
        None,
        description=N_(
            "Write JSON lines to this file (rotated) instead of stderr; null: "
            "stderr, for journald or docker logs."
        ),
    )
    rotate: Literal["size", "daily"] = Field(
        "size", description=N_("size: a new file at max_bytes; daily: a new file at UTC midnight.")
    )
    max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description=N_("With rotate: size, the size a log file may reach."),
    )
    backups: int = Field(
        7,
        ge=0,
        description=N_("Rotated files kept beside the current one; older ones are deleted."),
    )


class AdminConfig(Section):
    """The admin console at /admin; users come only from `ai-bot admin create-user`."""

    enabled: bool = Field(True, description=N_("Serve the admin console at /admin."))
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=N_(
            "Serve /admin only on this port (e.g. 8080, to "
            "firewall it apart) and not on server.port; unset: on server.port."
        ),
    )
    session_ttl: float = Field(
        28800.0, gt=0, description=N_("A console login lasts this long (e.g. 8h).")
    )
    lockout_attempts: int = Field(
        5, ge=1, description=N_("Failed logins (per user, and per client IP) before a lockout.")
    )
    lockout_minutes: float = Field(
        15.0, gt=0, description=N_("Minutes a locked-out user or IP must wait.")
    )

    @field_validator("session_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)
