"""The whole `config.yaml` as one typed schema: the root that gathers the sections.

Every key has a type, a default and a description so `ai-bot config` can document it and a typo
is reported as one readable line instead of silently ignored.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, model_validator

from aibot.config.archive import ArchiveConfig
from aibot.config.auth import AuthConfig
from aibot.config.base import NO_PROVIDERS, Section, invalid, section
from aibot.config.channels import ChannelsConfig
from aibot.config.conversation import EventsConfig, SessionConfig
from aibot.config.data import OutboxConfig, RedisConfig, RetentionConfig, StorageConfig
from aibot.config.media import MediaConfig
from aibot.config.models import ModelsConfig
from aibot.config.policy import PolicyConfig, RouteConfig
from aibot.config.schedules import RemindersConfig, ScheduleConfig
from aibot.config.server import AdminConfig, DispatcherConfig, LoggingConfig, ServerConfig
from aibot.config.tools import ToolsConfig
from aibot.config.ui import UiConfig
from aibot.i18n import N_


class Config(Section):
    server: ServerConfig = section(description=N_("Where the gateway listens."))
    storage: StorageConfig = section(description=N_("Where conversations, inbox and outbox live."))
    redis: RedisConfig = section(description=N_("Shared state for several replicas (optional)."))
    models: ModelsConfig = section(description=N_("Model providers, the default, the fallbacks."))
    session: SessionConfig = section(description=N_("Conversation memory."))
    dispatcher: DispatcherConfig = section(description=N_("Concurrency and back-pressure."))
    outbox: OutboxConfig = section(description=N_("Reply delivery retries and expiry."))
    retention: RetentionConfig = section(description=N_("What `ai-bot maintenance` deletes."))
    archive: ArchiveConfig | None = Field(None, description=N_("Old history to object storage."))
    media: MediaConfig = section(description=N_("Pictures, voice and files users send."))
    logging: LoggingConfig = section(description=N_("Log level and format."))
    ui: UiConfig = section(description=N_("The language of replies, pages and the CLI."))
    auth: AuthConfig = section(description=N_("JWT access tokens and identity providers."))
    admin: AdminConfig = section(description=N_("The admin console (/admin)."))
    channels: ChannelsConfig = section(
        description=N_("Chat platforms, the web page, the HTTP APIs and integrations."),
    )
    policy: PolicyConfig = section(description=N_("Sensitive words, rate limits, access, cache."))
    events: EventsConfig = section(description=N_("Greetings and cleanup on platform events."))
    routes: list[RouteConfig] = Field(
        default=[], description=N_("Per-message routing; the first match wins.")
    )
    tools: ToolsConfig = section(description=N_("Tools the model may call, and MCP servers."))
    schedules: list[ScheduleConfig] = Field(
        default=[], description=N_("Jobs run on a cron: a fixed message or a prompt.")
    )
    reminders: RemindersConfig = section(description=N_("Reminders users set with /remind."))

    @model_validator(mode="after")
    def _schedules_are_unique(self) -> Config:
        names = [s.name for s in self.schedules]
        if len(names) != len(set(names)):
            raise invalid(N_("schedules: every schedule needs a name of its own"))
        return self

    @model_validator(mode="after")
    def _routes_name_providers(self) -> Config:
        known = self.models.providers
        for route in self.routes:
            if route.provider is not None and route.provider not in known:
                raise invalid(
                    N_(
                        "routes: '{route}' names provider '{provider}', not one of "
                        "models.providers ({known})"
                    ),
                    route=route.name,
                    provider=route.provider,
                    known=", ".join(known) or NO_PROVIDERS,
                )
        return self

    @model_validator(mode="after")
    def _webhooks_need_a_public_url(self) -> Config:
        if self.server.public_url:
            return self
        for channel in self.channels.configured().values():
            problem = channel.public_url_problem()
            if problem:
                raise invalid(problem)
        return self

    def secrets(self) -> list[str]:
        """Every secret value in the config (keys, and passwords inside storage/redis URLs),
        for the log masker: errors and logs may quote any of them."""
        values = [k.get_secret_value() for k in self.channels.api.keys]
        values += [
            p.api_key.get_secret_value() for p in self.models.providers.values() if p.api_key
        ]
        for channel in self.channels.configured().values():
            values += channel.secret_values()
        values += [p for p in map(url_password, (self.storage.url, self.redis.url or "")) if p]
        values += self.storage.encryption.secret_values() if self.storage.encryption else []
        values += self.archive.secret_values() if self.archive else []
        values += self.tools.secret_values()
        stt_key = self.models.stt.api_key if self.models.stt else None
        values += [stt_key.get_secret_value()] if stt_key else []
        return values


def url_password(url: str) -> str | None:
    """The password in a storage/redis URL, so it can be masked wherever the URL is shown."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None
