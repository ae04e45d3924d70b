"""The `channels:` section: the web page and the HTTP APIs (always there), and one class per
chat platform, each masked and validated alike."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from aibot.config.base import Section, invalid, parse_duration, section
from aibot.i18n import N_


class ChannelSection(Section):
    """Settings of one platform. Every `SecretStr` field in one is masked in logs."""

    def public_url_problem(self) -> str | None:
        """Why this platform, as configured, needs server.public_url (a msgid); None if it
        does not."""
        return None

    def secret_values(self) -> list[str]:
        return [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]


class ApiConfig(Section):
    keys: list[SecretStr] = Field(
        default=[],
        description=N_("Bearer keys accepted by /v1, /api/v1 and the web page."),
    )
    key_refresh: float = Field(
        5.0,
        gt=0,
        description=N_(
            "How often keys made in the admin console are reloaded; a "
            "revocation reaches other replicas within this."
        ),
    )
    cors_origins: list[str] = Field(
        default=[],
        description=N_("Browser origins allowed to call /v1 and /api/v1 (CORS); empty: none."),
    )
    graphql: bool = Field(
        True, description=N_("Serve the GraphQL API at /graphql (same keys and scopes as REST).")
    )
    graphiql: bool = Field(
        False,
        description=N_(
            "Serve GraphiQL (from the package, no CDN) on GET /graphql for browsers; "
            "queries still need a key or token."
        ),
    )
    key_models: dict[str, list[str]] = Field(
        default={},
        description=N_(
            "Providers each key may use on /v1, by key name (key-1, apikey-7…); "
            "a key not listed may use every provider."
        ),
    )
    key_tools: dict[str, list[str]] = Field(
        default={},
        description=N_(
            "The gateway's tools each key's /v1 callers may use in conversations they "
            "keep with X-Session-Id and bring no tools of their own to, by key name (key-1…); "
            "a key not listed: none (/v1 passes its callers' own tools through)."
        ),
    )
    admin_keys: list[str] = Field(
        default=[],
        description=N_(
            "Keys whose callers are chat admins (/model, /stats) when "
            "policy.access.admins is set, by key name (key-1…); an id a caller names never is."
        ),
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


class WebchatConfig(Section):
    enabled: bool = Field(True, description=N_("Serve the web chat page at / and its WebSocket."))
    require_key: bool | None = Field(
        None, description=N_("Ask for an API key on the page; default: only when not on loopback.")
    )
    title: str = Field("ai-bot", description=N_("Name shown in the page header."))


class WebhookChannelConfig(ChannelSection):
    """A generic asynchronous channel: POST /api/v1/messages in, signed callback out."""

    callback_url: str = Field(description=N_("Where replies are POSTed."))
    secret: SecretStr | None = Field(None, description=N_("HMAC-SHA256 key signing the callbacks."))
    timeout: float = Field(10.0, gt=0, description=N_("Seconds allowed for one callback."))


class TelegramChannelConfig(ChannelSection):
    bot_token: SecretStr = Field(description=N_("The token @BotFather gave the bot."))
    mode: Literal["polling", "webhook"] = Field(
        "polling",
        description=N_("polling needs no public address; webhook needs server.public_url."),
    )
    webhook_secret: SecretStr | None = Field(
        None, description=N_("Secret Telegram sends with each webhook call (required for webhook).")
    )
    api_base: str = Field("https://api.telegram.org", description=N_("Bot API server base URL."))
    group_trigger: Literal["mention", "always", "off"] = Field(
        "mention", description=N_("In groups answer when @-mentioned/replied to, always, or never.")
    )
    group_sessions: Literal["shared", "per_user"] = Field(
        "shared", description=N_("One conversation per group, or one per member of a group.")
    )
    allowed_users: list[str] = Field(
        default=[], description=N_("User ids or @usernames allowed; empty: everyone.")
    )
    allowed_chats: list[int] = Field(
        default=[], description=N_("Chat ids allowed; empty: every chat.")
    )
    poll_timeout: float = Field(30.0, gt=0, description=N_("Long-poll seconds per getUpdates."))
    stream: bool = Field(
        False, description=N_("Show the answer as it is written by editing a draft message.")
    )
    stream_interval: float = Field(
        1.5, ge=1.0, description=N_("Seconds between draft edits (Telegram limits edit rates).")
    )
    text_only_notice: str = Field(
        N_("I can't read this kind of message yet."),
        description=N_(
            "Reply to messages the assistant cannot read (video, animated stickers, "
            "locations…); pictures, voice and files are read (see media)."
        ),
    )
    rating_buttons: bool = Field(True, description=N_("Show 👍/👎 buttons under each answer."))

    @field_validator("poll_timeout", "stream_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramChannelConfig:
        if self.mode == "webhook" and not (
            self.webhook_secret and self.webhook_secret.get_secret_value()
        ):
            raise invalid(N_("channels.telegram.webhook_secret is required in webhook mode"))
        return self

    def public_url_problem(self) -> str | None:
        if self.mode != "webhook":
            return None
        return N_(
            "channels.telegram.mode: webhook needs server.public_url "
            "(the https address Telegram can reach)"
        )


FEISHU_HOSTS = {"feishu": "https://open.feishu.cn", "lark": "https://open.larksuite.com"}


class FeishuChannelConfig(ChannelSection):
    """A Feishu/Lark self-built app's bot (open platform console → Credentials & Basic Info)."""

    app_id: str = Field(description=N_("App ID (cli_…)."))
    app_secret: SecretStr = Field(description=N_("App Secret."))
    verification_token: SecretStr | None = Field(
        None,
        description=N_(
            "Verification Token (Events & Callbacks → Encryption strategy); "
            "required in webhook mode."
        ),
    )
    encrypt_key: SecretStr | None = Field(
        None, description=N_("Encrypt Key: events arrive AES-encrypted and signed (recommended).")
    )
    mode: Literal["webhook", "websocket"] = Field(
        "webhook",
        description=N_(
            "webhook: Feishu POSTs to /feishu/webhook (needs a public URL); "
            "websocket: long connection, no public address (pip install 'ai-bot[feishu-ws]')."
        ),
    )
    domain: Literal["feishu", "lark"] = Field(
        "feishu", description=N_("feishu (open.feishu.cn) or lark (open.larksuite.com).")
    )
    api_base: str | None = Field(None, description=N_("Open platform base URL; overrides domain."))
    group_trigger: Literal["mention", "always", "off"] = Field(
        "mention", description=N_("In groups answer when @-mentioned, always, or never.")
    )
    group_sessions: Literal["shared", "per_user"] = Field(
        "shared", description=N_("One conversation per group, or one per member of a group.")
    )
    reply_format: Literal["post", "card", "text"] = Field(
        "post",
        description=N_(
            "Answers as rich-text post, interactive card, or plain text "
            "(post and card fall back to text if Feishu refuses them)."
        ),
    )
    rating_buttons: bool = Field(
        True, description=N_("👍/👎 buttons under answers sent as cards (reply_format: card).")
    )
    stream: bool = Field(
        False, description=N_("Show the answer as it is written by updating a card.")
    )
    stream_interval: float = Field(
        1.0, ge=0.5, description=N_("Seconds between card updates while streaming.")
    )
    signature_max_age: float = Field(
        300.0,
        gt=0,
        description=N_("Refuse signed events whose timestamp is further off than this."),
    )

    @field_validator("stream_interval", "signature_max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _webhook_needs_token(self) -> FeishuChannelConfig:
        if self.mode == "webhook" and not (
            self.verification_token and self.verification_token.get_secret_value()
        ):
            raise invalid(N_("channels.feishu.verification_token is required in webhook mode"))
        return self

    @property
    def base_url(self) -> str:
        return (self.api_base or FEISHU_HOSTS[self.domain]).rstrip("/")


class DingtalkChannelConfig(ChannelSection):
    """A DingTalk internal app's robot (开发者后台 → 应用开发 → 企业内部应用 → 机器人)."""

    client_id: str = Field(description=N_("Client ID (原 AppKey) of the app."))
    client_secret: SecretStr = Field(
        description=N_("Client Secret (原 AppSecret); also the key of HTTP-mode signatures.")
    )
    mode: Literal["stream", "http"] = Field(
        "stream",
        description=N_(
            "stream: outbound WebSocket, no public address; http: DingTalk "
            "POSTs to /dingtalk/webhook (the URL is entered in the console)."
        ),
    )
    api_base: str = Field("https://api.dingtalk.com", description=N_("OpenAPI base URL."))
    robot_code: str | None = Field(
        None, description=N_("The robot's code for the robot send APIs; default: client_id.")
    )
    reply_format: Literal["markdown", "text"] = Field(
        "markdown", description=N_("Answers as DingTalk markdown or plain text messages.")
    )
    keepalive: float = Field(
        20.0,
        ge=1.0,
        description=N_(
            "Stream mode: seconds between WebSocket pings; no pong "
            "within half of it means a dead connection, which is replaced."
        ),
    )
    signature_max_age: float = Field(
        300.0, gt=0, description=N_("HTTP mode: refuse requests whose timestamp is further off.")
    )
    webhook_hosts: list[str] = Field(
        default_factory=lambda: ["oapi.dingtalk.com", "api.dingtalk.com"],
        description=N_(
            "Hosts a message's reply link (sessionWebhook) may point to, over https; "
            "the origin of api_base is trusted too. Other links are not used: the answer goes "
            "through the robot API instead."
        ),
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

    corp_id: str = Field(min_length=1, description=N_("企业ID (My Company → Company Information)."))
    agent_id: int = Field(description=N_("AgentId of the self-built app."))
    secret: SecretStr = Field(description=N_("The app's Secret (used for gettoken)."))
    token: SecretStr = Field(
        description=N_("Token from the app's 接收消息 → 设置API接收 page (signs each callback).")
    )
    encoding_aes_key: SecretStr = Field(
        description=N_("EncodingAESKey from the same page: 43 letters and digits.")
    )
    api_base: str = Field("https://qyapi.weixin.qq.com", description=N_("WeCom API base URL."))
    reply_format: Literal["text", "markdown"] = Field(
        "text", description=N_("markdown renders in the WeCom app only, not in WeChat (微信).")
    )
    text_only_notice: str | None = Field(
        N_("I can't read this kind of message yet."),
        description=N_(
            "Reply to messages the assistant cannot read (video, locations, links); "
            "pictures and voice are read (see media). null: ignore."
        ),
    )
    rate_limit_wait: float = Field(
        60.0, gt=0, description=N_("Wait before resending after WeCom's 45009/45033 limits.")
    )
    timeout: float = Field(10.0, gt=0, description=N_("Seconds allowed for one WeCom API call."))

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
            raise invalid(
                N_(
                    "channels.wecom.encoding_aes_key must be the 43 letters and digits the WeCom "
                    "console shows, decoding to a 32-byte AES key (got {n} characters)"
                ),
                n=len(key),
            )
        return self


class ChannelsConfig(BaseModel):
    """Channels not built into this version are kept (and reported) rather than rejected.
    Built at first use with its sections (config/base.py `Section`)."""

    model_config = ConfigDict(extra="allow", validate_default=True, defer_build=True)
    webchat: WebchatConfig = section(description=N_("The web chat page."))
    api: ApiConfig = section(description=N_("Credentials for /v1, /api/v1 and the web page."))
    webhook: WebhookChannelConfig | None = None
    telegram: TelegramChannelConfig | None = None
    dingtalk: DingtalkChannelConfig | None = None
    feishu: FeishuChannelConfig | None = None
    wecom: WecomChannelConfig | None = None

    def unsupported(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())

    def configured(self) -> dict[str, ChannelSection]:
        return {
            name: value
            for name, value in self.__dict__.items()
            if isinstance(value, ChannelSection)
        }
