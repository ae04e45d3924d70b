"""The whole `config.yaml` as one typed schema, its loading, presets and in-place editing.

Import from here (`from aibot.config import Config`); the sections live in modules of their own.
This package imports nothing else of aibot but the catalog (`aibot.i18n`: `N_` for the built-in
sentences, `Phrase` for a refusal said later in its reader's language): every other room may
read config, config reads none.
"""

from aibot.config.base import ConfigError, Section, parse_duration
from aibot.config.channels import (
    FEISHU_HOSTS,
    ApiConfig,
    ChannelsConfig,
    ChannelSection,
    DingtalkChannelConfig,
    FeishuChannelConfig,
    TelegramChannelConfig,
    WebchatConfig,
    WebhookChannelConfig,
    WecomChannelConfig,
)
from aibot.config.conversation import EventsConfig, SessionConfig
from aibot.config.data import OutboxConfig, RedisConfig, RetentionConfig, StorageConfig
from aibot.config.loading import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    LoadedConfig,
    build_environment,
    default_config_from_env,
    interpolate,
    load_config,
    resolve_config_path,
)
from aibot.config.media import MediaConfig, SpeechConfig, upload_body_bytes
from aibot.config.models import CanaryConfig, ModelsConfig, ProviderConfig
from aibot.config.policy import (
    AccessConfig,
    CacheConfig,
    PolicyConfig,
    RateLimitConfig,
    RouteConfig,
    RouteMatch,
    SensitiveWordsConfig,
    parse_rate,
)
from aibot.config.schedules import RemindersConfig, ScheduleConfig, ScheduleTarget
from aibot.config.schema import Config, url_password
from aibot.config.server import AdminConfig, DispatcherConfig, LoggingConfig, ServerConfig
from aibot.config.tools import FetchConfig, McpServerConfig, ToolsConfig
from aibot.config.ui import UiConfig

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "FEISHU_HOSTS",
    "AccessConfig",
    "AdminConfig",
    "ApiConfig",
    "CacheConfig",
    "CanaryConfig",
    "ChannelSection",
    "ChannelsConfig",
    "Config",
    "ConfigError",
    "DingtalkChannelConfig",
    "DispatcherConfig",
    "EventsConfig",
    "FeishuChannelConfig",
    "FetchConfig",
    "LoadedConfig",
    "LoggingConfig",
    "McpServerConfig",
    "MediaConfig",
    "ModelsConfig",
    "OutboxConfig",
    "PolicyConfig",
    "ProviderConfig",
    "RateLimitConfig",
    "RedisConfig",
    "RemindersConfig",
    "RetentionConfig",
    "RouteConfig",
    "RouteMatch",
    "ScheduleConfig",
    "ScheduleTarget",
    "Section",
    "SensitiveWordsConfig",
    "ServerConfig",
    "SessionConfig",
    "SpeechConfig",
    "StorageConfig",
    "TelegramChannelConfig",
    "ToolsConfig",
    "UiConfig",
    "WebchatConfig",
    "WebhookChannelConfig",
    "WecomChannelConfig",
    "build_environment",
    "default_config_from_env",
    "interpolate",
    "load_config",
    "parse_duration",
    "parse_rate",
    "resolve_config_path",
    "upload_body_bytes",
    "url_password",
]
