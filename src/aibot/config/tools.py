"""The `tools:` section: the tool loop's bounds, the built-in tools and the MCP servers.

Every tool is off until named here (built-ins) or served by a configured MCP server, and then
offered only to the chats whose route lists it (`routes[].tools`).
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from aibot.config.base import Section, invalid, parse_duration, section
from aibot.i18n import N_

Builtin = Literal["current_time", "calculator", "fetch_url", "conversation_search"]


def check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(
            N_("unknown time zone {value} (use e.g. Asia/Shanghai, UTC)"), value=repr(value)
        ) from None
    return value


class FetchConfig(Section):
    allowed_hosts: list[str] = Field(
        default=[],
        description=N_(
            "Hosts fetch_url may read (exact, or `*.example.com`); empty: none. Private, "
            "loopback and link-local addresses are refused whatever the name."
        ),
    )
    max_bytes: int = Field(500_000, ge=1024, le=20_000_000, description=N_("Largest body read."))
    timeout: float = Field(10.0, gt=0, le=120, description=N_("Seconds for the whole fetch."))
    max_redirects: int = Field(3, ge=0, le=10, description=N_("Redirects followed (each checked)."))


class McpServerConfig(Section):
    """One MCP server: a command run over stdio, or a streamable HTTP URL."""

    command: str | None = Field(None, description=N_("stdio: the program to run."))
    args: list[str] = Field(default=[], description=N_("stdio: its arguments."))
    env: dict[str, SecretStr] = Field(
        default={},
        description=N_("stdio: environment given to it (besides PATH, HOME…)."),
    )
    cwd: str | None = Field(None, description=N_("stdio: its working directory."))
    url: str | None = Field(None, description=N_("Streamable HTTP: the endpoint, e.g. …/mcp."))
    headers: dict[str, SecretStr] = Field(
        default={}, description=N_("Streamable HTTP: headers sent (e.g. Authorization).")
    )
    timeout: float = Field(30.0, gt=0, le=600, description=N_("Seconds one tool call may take."))
    confirm: list[str] = Field(
        default=[],
        description=N_("Tools of this server the user must approve before each call ('*': all)."),
    )

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise invalid(N_("an MCP server needs exactly one of `command` (stdio) or `url`"))
        return self

    def secret_values(self) -> list[str]:
        return [v.get_secret_value() for v in (*self.env.values(), *self.headers.values())]


class ToolsConfig(Section):
    enabled: list[Builtin] = Field(
        default=[], description=N_("Built-in tools switched on (each off unless listed).")
    )
    max_rounds: int = Field(
        5, ge=1, le=20, description=N_("Model calls per message when it keeps asking for tools.")
    )
    budget: float = Field(
        90.0, gt=0, description=N_("Seconds the whole tool loop may take (e.g. 90s, 2m).")
    )
    max_output_chars: int = Field(
        8000, ge=256, le=200_000, description=N_("A tool's result is cut to this many characters.")
    )
    time_zone: str = Field(
        "Asia/Shanghai", description=N_("Time zone of chats whose route names none (IANA name).")
    )
    fetch: FetchConfig = section(description=N_("The fetch_url tool."))
    mcp: dict[str, McpServerConfig] = Field(
        default={},
        description=N_("MCP servers by name; their tools are offered as `<name>__<tool>`."),
    )
    confirm: list[str] = Field(
        default=[],
        description=N_("Built-in tools the user must approve before each call."),
    )
    confirm_timeout: float = Field(
        120.0,
        gt=0,
        le=3600,
        description=N_("How long a tool waits for /approve before it is denied."),
    )

    @field_validator("budget", "confirm_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("mcp")
    @classmethod
    def _names(cls, value: dict[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        for name in value:
            if not name.replace("_", "").replace("-", "").isalnum() or "__" in name:
                raise invalid(
                    N_("MCP server name {name}: letters, digits, - and _ only"), name=repr(name)
                )
        return value

    def secret_values(self) -> list[str]:
        return [secret for server in self.mcp.values() for secret in server.secret_values()]
