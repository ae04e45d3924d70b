"""The whole `config.yaml` as one typed schema, plus loading with `${VAR}` and `.env` interpolation.

Every key has a type, a default and a description so `ai-bot config` can document it and a typo
is reported as one readable line instead of silently ignored.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_FILE = "config.yaml"
CONFIG_ENV_VAR = "AIBOT_CONFIG"

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ENV_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A config problem the user must fix; `str()` is one line per problem."""


def parse_duration(value: Any) -> float:
    """Accept `30m`, `10s`, `250ms`, `1h`, `2d` or a plain number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 10m, 1h)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerConfig(_Section):
    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 exposes the gateway.")
    port: int = Field(18789, ge=1, le=65535, description="Gateway port (chat page, API, webhooks).")
    public_url: str | None = Field(None, description="Public https URL, used to register webhooks.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted.")

    @property
    def is_loopback(self) -> bool:
        """Loopback binds are reachable only from this machine, so the web page may stay open."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class StorageConfig(_Section):
    url: str = Field("sqlite:///data/ai-bot.db", description="sqlite:///path or postgresql://...")


class RedisConfig(_Section):
    url: str | None = Field(None, description="redis:// URL; enables shared state for replicas.")


class ApiConfig(_Section):
    keys: list[SecretStr] = Field(
        default_factory=list, description="Bearer keys accepted by /v1, /api/v1 and the web page."
    )
    key_refresh: float = Field(
        5.0, gt=0, description="How often keys made in the admin console are reloaded; a "
        "revocation reaches other replicas within this."
    )

    @field_validator("key_refresh", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("keys", mode="after")
    @classmethod
    def _drop_empty(cls, keys: list[SecretStr]) -> list[SecretStr]:
        """An unset `${AIBOT_API_KEY}` interpolates to '' and must not become a valid key."""
        return [k for k in keys if k.get_secret_value().strip()]


class ProviderConfig(_Section):
    preset: str | None = Field(None, description="Vendor preset: openai, minimax, zhipu, deepseek…")
    base_url: str | None = Field(None, description="OpenAI-compatible base URL; overrides preset.")
    api_key: SecretStr | None = Field(None, description="The provider's API key.")
    model: str | None = Field(None, description="Model name sent to the provider.")
    timeout: float = Field(120.0, gt=0, description="Seconds allowed for one model call.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds allowed to connect.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    max_tokens: int | None = Field(None, ge=1, description="Cap on answer tokens.")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Extra request fields.")
    extra_headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")
    reasoning_echo: Literal["none", "field", "think_tags"] | None = Field(
        None, description="How stored reasoning is sent back in history (preset decides if unset)."
    )
    max_connections: int = Field(100, ge=1, description="Pooled connections to this provider.")


class CanaryConfig(_Section):
    provider: str = Field(description="The provider under trial.")
    weight: float = Field(ge=0, le=100, description="Percent of conversations sent to it.")


class ModelsConfig(_Section):
    default: str | None = Field(None, description="Provider name used unless a session picks one.")
    fallbacks: list[str] = Field(default_factory=list, description="Tried in order on failure.")
    breaker_failures: int = Field(
        5, ge=1, description="Consecutive failed calls that open a provider's circuit."
    )
    breaker_cooldown: float = Field(
        30.0, description="How long an open circuit skips its provider (e.g. 30s)."
    )
    providers: dict[str, ProviderConfig] = Field(
        default_factory=dict, description="Named providers; the names are what /model accepts."
    )
    canary: CanaryConfig | None = Field(
        None, description="Send a share of conversations (sticky) to a provider under trial."
    )

    @field_validator("breaker_cooldown", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _names_exist(self) -> ModelsConfig:
        """A misspelt default would otherwise silently route every message elsewhere."""
        known = ", ".join(self.providers) or "none configured"
        named = [("default", self.default), *(("fallbacks", f) for f in self.fallbacks)]
        if self.canary is not None:
            named.append(("canary.provider", self.canary.provider))
        for field, name in named:
            if name is not None and name not in self.providers:
                raise ValueError(f"models.{field}: '{name}' is not a provider under "
                                 f"models.providers (configured: {known})")
        return self


class SessionConfig(_Section):
    max_turns: int = Field(20, ge=0, le=1000, description="Exchanges kept as context.")
    max_context_tokens: int = Field(
        16000, ge=256, description="Token budget for history; oldest turns are dropped first."
    )
    idle_reset: float | None = Field(
        1800.0, description="Start a fresh context after this much silence (e.g. 30m); null: never."
    )
    system_prompt: str | None = Field(None, description="System prompt sent before the history.")
    cache_sessions: int = Field(2000, ge=0, description="Recent conversations kept in memory.")

    @field_validator("idle_reset", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value in (None, "", 0, "0", "never") else parse_duration(value)


class DispatcherConfig(_Section):
    max_concurrency: int = Field(64, ge=1, description="Sessions processed at the same time.")
    max_queue: int = Field(10000, ge=1, description="Messages waiting before back-pressure.")


class OutboxConfig(_Section):
    max_attempts: int = Field(10, ge=1, description="Send attempts before dead-lettering.")
    max_age: float = Field(600.0, description="Replies older than this are expired, not sent late.")
    backoff_base: float = Field(1.0, gt=0, description="First retry delay in seconds (doubles).")
    backoff_max: float = Field(300.0, gt=0, description="Longest retry delay in seconds.")

    @field_validator("max_age", "backoff_base", "backoff_max", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class RetentionConfig(_Section):
    """How long `ai-bot maintenance` keeps rows; pending inbox/outbox rows are never deleted."""

    turns_days: float | None = Field(
        None, ge=1, description="Delete conversation turns older than this many days; null: keep."
    )
    inbox_days: float = Field(
        7, ge=1, description="Keep handled inbox rows this many days (≥ 1: platform re-deliveries "
        "are dropped by matching them)."
    )
    outbox_days: float = Field(7, ge=1, description="Keep sent/dead/expired replies this long.")


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written; info logs one line per message."
    )
    format: Literal["auto", "console", "json"] = Field(
        "auto", description="auto: readable on a terminal, JSON otherwise."
    )
    file: str | None = Field(
        None, description="Write JSON lines to this file (rotated) instead of stderr; null: "
        "stderr, for journald or docker logs."
    )
    rotate: Literal["size", "daily"] = Field(
        "size", description="size: a new file at max_bytes; daily: a new file at UTC midnight."
    )
    max_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="With rotate: size, the size a log file may reach."
    )
    backups: int = Field(
        7, ge=0, description="Rotated files kept beside the current one; older ones are deleted."
    )


_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\s*(?:ms|s|m|h|d)|second|minute|hour|day)\s*$")
_RATE_WORDS = {"second": "1s", "minute": "1m", "hour": "1h", "day": "1d"}


def parse_rate(value: Any) -> tuple[int, float] | None:
    """`5/minute`, `30/10m` → (count, window seconds); null or "" switch the limit off."""
    if value in (None, ""):
        return None
    if isinstance(value, tuple):
        return value  # already parsed (a model copied with its values)
    match = _RATE_RE.match(str(value))
    if not match:
        raise ValueError(f"not a rate: {value!r} (use e.g. 5/minute, 100/hour, 20/30s)")
    window = _RATE_WORDS.get(match.group(2).strip(), match.group(2).strip())
    count, seconds = int(match.group(1)), parse_duration(window if window[0].isdigit()
                                                         else "1" + window)
    if count < 1 or seconds <= 0:
        raise ValueError(f"a rate needs a positive count and window: {value!r}")
    return count, seconds


class SensitiveWordsConfig(_Section):
    words: list[str] = Field(default_factory=list, description="Forbidden words and phrases.")
    files: list[Path] = Field(
        default_factory=list, description="Word lists, one per line; reloaded on change."
    )
    action: Literal["block", "mask"] = Field(
        "block", description="block: refuse the message; mask: replace the words with ***."
    )
    check_output: bool = Field(True, description="Also mask the words in answers (streamed too).")
    refusal: str = Field(
        "Sorry, I can't help with that message. 抱歉，这条消息无法处理。",
        description="What a blocked user is told.",
    )


class RateLimitConfig(_Section):
    per_user: tuple[int, float] | None = Field(
        None, description="Messages per user, e.g. 5/minute; null: unlimited."
    )
    per_chat: tuple[int, float] | None = Field(
        None, description="Messages per chat (a group counts once), e.g. 30/minute."
    )
    burst: int | None = Field(
        None, ge=1, description="Messages allowed at once; default: the count of the rate."
    )
    daily_tokens_per_user: int | None = Field(
        None, ge=1, description="Model tokens a user may spend per day (UTC); null: unlimited."
    )
    message: str = Field(
        "You're sending messages too fast. Please try again in {retry} s. 请 {retry} 秒后再试。",
        description="Told to a limited user; {retry} is the wait in seconds.",
    )
    quota_message: str = Field(
        "You've used today's quota. It resets at 00:00 UTC. 今日额度已用完。",
        description="Told to a user over the daily token quota.",
    )

    @field_validator("per_user", "per_chat", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> tuple[int, float] | None:
        return parse_rate(value)

    @property
    def enabled(self) -> bool:
        return bool(self.per_user or self.per_chat or self.daily_tokens_per_user)


class AccessConfig(_Section):
    """Who may talk to the assistant. Ids are `user_id` or `channel:user_id`."""

    allow_users: list[str] = Field(
        default_factory=list, description="If set, only these users are answered in DMs."
    )
    deny_users: list[str] = Field(default_factory=list, description="Never answered.")
    allow_chats: list[str] = Field(
        default_factory=list, description="If set, only these group chats are answered."
    )
    deny_chats: list[str] = Field(default_factory=list, description="Group chats never answered.")
    dm_policy: Literal["open", "allowlist", "pairing"] = Field(
        "open", description="open: anyone; allowlist: allow_users only; pairing: "
        "unknown users get a code an admin approves with `ai-bot pairing approve CODE`.",
    )
    pairing_ttl: float = Field(3600.0, description="How long a pairing code stays valid.")
    max_pending_pairings: int = Field(
        20, ge=1, description="Unapproved codes at once; more requests are told to wait."
    )
    admins: list[str] = Field(
        default_factory=list,
        description="Users who may use admin commands (/model, /stats); empty: everyone may.",
    )
    denied_message: str = Field(
        "Sorry, you are not allowed to use this assistant. 抱歉，您没有使用权限。",
        description="Told to a user the lists refuse (groups are refused silently).",
    )

    @field_validator("pairing_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class CacheConfig(_Section):
    enabled: bool = Field(False, description="Reuse answers to identical first questions.")
    ttl: float = Field(3600.0, description="How long an answer is reused (e.g. 1h).")
    max_entries: int = Field(10000, ge=1, description="Answers kept in memory (without Redis).")

    @field_validator("ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class PolicyConfig(_Section):
    sensitive_words: SensitiveWordsConfig = Field(
        default_factory=SensitiveWordsConfig, description="Words refused or masked."
    )
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="Message rates and daily token quotas."
    )
    access: AccessConfig = Field(default_factory=AccessConfig, description="Who is answered.")
    cache: CacheConfig = Field(default_factory=CacheConfig, description="Answer cache.")


class RouteMatch(_Section):
    channel: str | None = Field(None, description="telegram, feishu, web, api…")
    chat_type: Literal["private", "group"] | None = Field(None, description="DM or group.")
    chat_id: str | None = Field(None, description="One chat (the platform's id).")
    user_id: str | None = Field(None, description="One user (the platform's id).")
    prefix: str | None = Field(None, description="Text starts with this.")
    regex: str | None = Field(None, description="Text matches this (Python regex, searched).")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from None
        return value


class RouteConfig(_Section):
    name: str = Field(description="Shown in logs and metrics.")
    match: RouteMatch = Field(default_factory=RouteMatch, description="All given fields must hold.")
    provider: str | None = Field(None, description="Provider answering; default: the default.")
    system_prompt: str | None = Field(None, description="Persona for this route.")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    max_turns: int | None = Field(None, ge=0, description="Exchanges kept as context.")
    reply: str | None = Field(None, description="Fixed answer (FAQ); the model is not called.")
    filters: bool = Field(True, description="Apply sensitive-word checks on this route.")


class AdminConfig(_Section):
    """The admin console at /admin; users come only from `ai-bot admin create-user`."""

    enabled: bool = Field(True, description="Serve the admin console at /admin.")
    port: int | None = Field(
        None, ge=1, le=65535, description="Serve /admin only on this port (e.g. 8080, to "
        "firewall it apart) and not on server.port; unset: on server.port."
    )
    session_ttl: float = Field(
        28800.0, gt=0, description="A console login lasts this long (e.g. 8h)."
    )
    lockout_attempts: int = Field(
        5, ge=1, description="Failed logins (per user, and per client IP) before a lockout."
    )
    lockout_minutes: float = Field(
        15.0, gt=0, description="Minutes a locked-out user or IP must wait."
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Reverse proxies (IPs or CIDRs) whose last X-Forwarded-For entry is taken "
        "as the client address (lockout, audit log); other peers' headers are ignored."
    )

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            ipaddress.ip_network(value, strict=False)
        return values

    @field_validator("session_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class EventsConfig(_Section):
    """What the assistant does when platforms report changes (Telegram, Feishu, WeCom)."""

    greeting: str | None = Field(
        "Hi! I'm the team's AI assistant: mention me with a question. 你好！@我即可提问。",
        description="Sent when the bot is added to a group (or a WeCom user opens the app); "
        "null: say nothing.",
    )
    welcome: str | None = Field(
        None, description="Sent when members join a group; {names} is who joined. null: off."
    )
    reset_on_removal: bool = Field(
        True, description="Reset a group's conversations when the bot is removed from it."
    )
    app_greeting: str | None = Field(
        None, description="Sent once to a WeCom user who opens the app (enter_agent); null: off."
    )


class WebchatConfig(_Section):
    enabled: bool = Field(True, description="Serve the web chat page at / and its WebSocket.")
    require_key: bool | None = Field(
        None, description="Ask for an API key on the page; default: only when not on loopback."
    )
    title: str = Field("ai-bot", description="Name shown in the page header.")


class ChannelSection(_Section):
    """Settings of one platform. Every `SecretStr` field in one is masked in logs."""

    def public_url_problem(self) -> str | None:
        """Why this platform, as configured, needs server.public_url; None if it does not."""
        return None

    def secret_values(self) -> list[str]:
        return [value.get_secret_value() for value in self.__dict__.values()
                if isinstance(value, SecretStr) and value.get_secret_value()]


class WebhookChannelConfig(ChannelSection):
    """A generic asynchronous channel: POST /api/v1/messages in, signed callback out."""

    callback_url: str = Field(description="Where replies are POSTed.")
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key signing the callbacks.")
    timeout: float = Field(10.0, gt=0, description="Seconds allowed for one callback.")


class TelegramChannelConfig(ChannelSection):
    bot_token: SecretStr = Field(description="The token @BotFather gave the bot.")
    mode: Literal["polling", "webhook"] = Field(
        "polling", description="polling needs no public address; webhook needs server.public_url."
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Secret Telegram sends with each webhook call (required for webhook)."
    )
    api_base: str = Field("https://api.telegram.org", description="Bot API server base URL.")
    group_trigger: Literal["mention", "always", "off"] = Field(
        "mention", description="In groups answer when @-mentioned/replied to, always, or never."
    )
    group_sessions: Literal["shared", "per_user"] = Field(
        "shared", description="One conversation per group, or one per member of a group."
    )
    allowed_users: list[str] = Field(
        default_factory=list, description="User ids or @usernames allowed; empty: everyone."
    )
    allowed_chats: list[int] = Field(
        default_factory=list, description="Chat ids allowed; empty: every chat."
    )
    poll_timeout: float = Field(30.0, gt=0, description="Long-poll seconds per getUpdates.")
    stream: bool = Field(
        False, description="Show the answer as it is written by editing a draft message."
    )
    stream_interval: float = Field(
        1.5, ge=1.0, description="Seconds between draft edits (Telegram limits edit rates)."
    )
    text_only_notice: str = Field(
        "I can only read text messages for now. 目前只支持文字消息。",
        description="Reply to photos, stickers, voice and other non-text messages.",
    )
    rating_buttons: bool = Field(True, description="Show 👍/👎 buttons under each answer.")

    @field_validator("poll_timeout", "stream_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramChannelConfig:
        if self.mode == "webhook" and not (self.webhook_secret
                                            and self.webhook_secret.get_secret_value()):
            raise ValueError("channels.telegram.webhook_secret is required in webhook mode")
        return self

    def public_url_problem(self) -> str | None:
        if self.mode != "webhook":
            return None
        return ("channels.telegram.mode: webhook needs server.public_url "
                "(the https address Telegram can reach)")


FEISHU_HOSTS = {"feishu": "https://open.feishu.cn", "lark": "https://open.larksuite.com"}


class FeishuChannelConfig(ChannelSection):
    """A Feishu/Lark self-built app's bot (open platform console → Credentials & Basic Info)."""

    app_id: str = Field(description="App ID (cli_…).")
    app_secret: SecretStr = Field(description="App Secret.")
    verification_token: SecretStr | None = Field(
        None, description="Verification Token (Events & Callbacks → Encryption strategy); "
        "required in webhook mode.",
    )
    encrypt_key: SecretStr | None = Field(
        None, description="Encrypt Key: events arrive AES-encrypted and signed (recommended)."
    )
    mode: Literal["webhook", "websocket"] = Field(
        "webhook", description="webhook: Feishu POSTs to /feishu/webhook (needs a public URL); "
        "websocket: long connection, no public address (pip install 'ai-bot[feishu-ws]').",
    )
    domain: Literal["feishu", "lark"] = Field(
        "feishu", description="feishu (open.feishu.cn) or lark (open.larksuite.com)."
    )
    api_base: str | None = Field(None, description="Open platform base URL; overrides domain.")
    group_trigger: Literal["mention", "always", "off"] = Field(
        "mention", description="In groups answer when @-mentioned, always, or never."
    )
    group_sessions: Literal["shared", "per_user"] = Field(
        "shared", description="One conversation per group, or one per member of a group."
    )
    reply_format: Literal["post", "card", "text"] = Field(
        "post", description="Answers as rich-text post, interactive card, or plain text "
        "(post and card fall back to text if Feishu refuses them).",
    )
    rating_buttons: bool = Field(
        True, description="👍/👎 buttons under answers sent as cards (reply_format: card)."
    )
    stream: bool = Field(
        False, description="Show the answer as it is written by updating a card."
    )
    stream_interval: float = Field(
        1.0, ge=0.5, description="Seconds between card updates while streaming."
    )
    signature_max_age: float = Field(
        300.0, gt=0, description="Refuse signed events whose timestamp is further off than this."
    )

    @field_validator("stream_interval", "signature_max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _webhook_needs_token(self) -> FeishuChannelConfig:
        if self.mode == "webhook" and not (self.verification_token
                                            and self.verification_token.get_secret_value()):
            raise ValueError("channels.feishu.verification_token is required in webhook mode")
        return self

    @property
    def base_url(self) -> str:
        return (self.api_base or FEISHU_HOSTS[self.domain]).rstrip("/")


class DingtalkChannelConfig(ChannelSection):
    """A DingTalk internal app's robot (开发者后台 → 应用开发 → 企业内部应用 → 机器人)."""

    client_id: str = Field(description="Client ID (原 AppKey) of the app.")
    client_secret: SecretStr = Field(
        description="Client Secret (原 AppSecret); also the key of HTTP-mode signatures."
    )
    mode: Literal["stream", "http"] = Field(
        "stream", description="stream: outbound WebSocket, no public address; http: DingTalk "
        "POSTs to /dingtalk/webhook (the URL is entered in the console).",
    )
    api_base: str = Field("https://api.dingtalk.com", description="OpenAPI base URL.")
    robot_code: str | None = Field(
        None, description="The robot's code for the robot send APIs; default: client_id."
    )
    reply_format: Literal["markdown", "text"] = Field(
        "markdown", description="Answers as DingTalk markdown or plain text messages."
    )
    keepalive: float = Field(
        20.0, ge=1.0, description="Stream mode: seconds between WebSocket pings; no pong "
        "within half of it means a dead connection, which is replaced.",
    )
    signature_max_age: float = Field(
        3600.0, gt=0, description="HTTP mode: refuse requests whose timestamp is further off."
    )

    @field_validator("keepalive", "signature_max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @property
    def robot(self) -> str:
        return self.robot_code or self.client_id


class WecomChannelConfig(ChannelSection):
    """A WeCom (企业微信) self-built app: encrypted callbacks in, `message/send` out."""

    corp_id: str = Field(min_length=1, description="企业ID (My Company → Company Information).")
    agent_id: int = Field(description="AgentId of the self-built app.")
    secret: SecretStr = Field(description="The app's Secret (used for gettoken).")
    token: SecretStr = Field(
        description="Token from the app's 接收消息 → 设置API接收 page (signs each callback)."
    )
    encoding_aes_key: SecretStr = Field(
        description="EncodingAESKey from the same page: 43 letters and digits."
    )
    api_base: str = Field("https://qyapi.weixin.qq.com", description="WeCom API base URL.")
    reply_format: Literal["text", "markdown"] = Field(
        "text", description="markdown renders in the WeCom app only, not in WeChat (微信)."
    )
    text_only_notice: str | None = Field(
        "I can only read text messages for now. 目前只支持文字消息。",
        description="Reply to images, voice, files and other non-text messages; null: ignore.",
    )
    rate_limit_wait: float = Field(
        60.0, gt=0, description="Wait before resending after WeCom's 45009/45033 limits."
    )
    timeout: float = Field(10.0, gt=0, description="Seconds allowed for one WeCom API call.")

    @field_validator("rate_limit_wait", "timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _aes_key(self) -> WecomChannelConfig:
        """The AES key is base64(key + "="): 43 base64 letters and digits are exactly the
        strings that decode to the 32 bytes AES-256 needs; anything else fails every callback.
        Checked on the section, not the field, so the error never quotes the key."""
        key = self.encoding_aes_key.get_secret_value()
        if len(key) != 43 or not key.isascii() or not key.isalnum():
            raise ValueError(f"channels.wecom.encoding_aes_key must be the 43 letters and digits "
                             f"the WeCom console shows, decoding to a 32-byte AES key (got "
                             f"{len(key)} characters)")
        return self


class ChannelsConfig(BaseModel):
    """Channels not built into this version are kept (and reported) rather than rejected."""

    model_config = ConfigDict(extra="allow")
    webhook: WebhookChannelConfig | None = None
    telegram: TelegramChannelConfig | None = None
    dingtalk: DingtalkChannelConfig | None = None
    feishu: FeishuChannelConfig | None = None
    wecom: WecomChannelConfig | None = None

    def unsupported(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())

    def configured(self) -> dict[str, ChannelSection]:
        return {name: value for name, value in self.__dict__.items()
                if isinstance(value, ChannelSection)}


class Config(_Section):
    server: ServerConfig = Field(
        default_factory=ServerConfig, description="Where the gateway listens."
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Where conversations, inbox and outbox live."
    )
    redis: RedisConfig = Field(
        default_factory=RedisConfig, description="Shared state for several replicas (optional)."
    )
    api: ApiConfig = Field(
        default_factory=ApiConfig, description="Credentials for the HTTP APIs."
    )
    models: ModelsConfig = Field(
        default_factory=ModelsConfig, description="Model providers, the default, the fallbacks."
    )
    session: SessionConfig = Field(
        default_factory=SessionConfig, description="Conversation memory."
    )
    dispatcher: DispatcherConfig = Field(
        default_factory=DispatcherConfig, description="Concurrency and back-pressure."
    )
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig, description="Reply delivery retries and expiry."
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="What `ai-bot maintenance` deletes."
    )
    logging: LoggingConfig = Field(
        default_factory=LoggingConfig, description="Log level and format."
    )
    webchat: WebchatConfig = Field(
        default_factory=WebchatConfig, description="The web chat page."
    )
    admin: AdminConfig = Field(
        default_factory=AdminConfig, description="The admin console (/admin)."
    )
    channels: ChannelsConfig = Field(
        default_factory=ChannelsConfig, description="Chat platforms and integrations."
    )
    policy: PolicyConfig = Field(
        default_factory=PolicyConfig, description="Sensitive words, rate limits, access, cache."
    )
    events: EventsConfig = Field(
        default_factory=EventsConfig, description="Greetings and cleanup on platform events."
    )
    routes: list[RouteConfig] = Field(
        default_factory=list, description="Per-message routing; the first match wins."
    )

    @model_validator(mode="after")
    def _routes_name_providers(self) -> Config:
        known = self.models.providers
        for route in self.routes:
            if route.provider is not None and route.provider not in known:
                raise ValueError(f"routes: '{route.name}' names provider '{route.provider}', "
                                 f"not one of models.providers ({', '.join(known) or 'none'})")
        return self

    @model_validator(mode="after")
    def _webhooks_need_a_public_url(self) -> Config:
        if self.server.public_url:
            return self
        for channel in self.channels.configured().values():
            problem = channel.public_url_problem()
            if problem:
                raise ValueError(problem)
        return self

    def secrets(self) -> list[str]:
        """Every secret value in the config (keys, and passwords inside storage/redis URLs),
        for the log masker: errors and logs may quote any of them."""
        values = [k.get_secret_value() for k in self.api.keys]
        values += [p.api_key.get_secret_value() for p in self.models.providers.values()
                   if p.api_key]
        for channel in self.channels.configured().values():
            values += channel.secret_values()
        values += [p for p in map(url_password, (self.storage.url, self.redis.url or "")) if p]
        return values


def url_password(url: str) -> str | None:
    """The password in a storage/redis URL, so it can be masked wherever the URL is shown."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class LoadedConfig(BaseModel):
    """The validated config plus where it came from and which `${VAR}`s were unset."""

    config: Config
    path: Path | None
    missing_env: list[str] = Field(default_factory=list)


def interpolate(value: Any, env: Mapping[str, str], missing: list[str]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; unset names are collected."""
    if isinstance(value, str):

        def _sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is None and name not in missing:
                missing.append(name)
            return default or ""

        return _ENV_REF_RE.sub(_sub, value)
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    return value


def format_validation_error(error: ValidationError, source: str) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(top level)"
        got = problem.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key (check spelling; see `ai-bot config`)"
        lines.append(f"{source}: {where}: {message}{shown}")
    return "\n".join(lines)


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """`-c` beats `$AIBOT_CONFIG` beats `./config.yaml`; None means run on defaults."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (create one with `ai-bot init`)")
        return path
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return resolve_config_path(from_env)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def build_environment(config_dir: Path) -> dict[str, str]:
    """The process environment wins over `.env` so deploy tooling can override a file."""
    env: dict[str, str] = {}
    for dotenv_path in (Path(".env"), config_dir / ".env"):
        if dotenv_path.is_file():
            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ)
    return env


def load_config(explicit: str | os.PathLike[str] | None = None) -> LoadedConfig:
    path = resolve_config_path(explicit)
    raw: Any = {}
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
    env = build_environment(path.parent if path else Path("."))
    missing: list[str] = []
    data = interpolate(raw, env, missing)
    if path is None:
        data = default_config_from_env(env)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path or "defaults"))) from None
    return LoadedConfig(config=config, path=path, missing_env=missing)


def default_config_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """With no config file, pick up well-known provider keys so `ai-bot run` just works."""
    from aibot.providers.presets import PRESETS

    providers: dict[str, Any] = {}
    for name, preset in PRESETS.items():
        if preset.env_key and env.get(preset.env_key):
            providers[name] = {"preset": name, "api_key": env[preset.env_key]}
    data: dict[str, Any] = {"models": {"providers": providers}}
    if providers:
        data["models"]["default"] = next(iter(providers))
    if env.get("AIBOT_API_KEY"):
        data["api"] = {"keys": [env["AIBOT_API_KEY"]]}
    return data
