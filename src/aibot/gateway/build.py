"""Builds the gateway from config and serves it as one ASGI app. The only place rooms meet."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from aibot import __version__
from aibot.admin.keys import ApiKeyStore
from aibot.admin.routes import AdminConsole
from aibot.channels.api_keys import ApiKeys, bearer_token
from aibot.channels.base import ChannelContext, Clock
from aibot.channels.http_api.openai_api import build_openai_router, openai_error
from aibot.channels.http_api.rest import build_rest_router, error_response
from aibot.channels.webchat.channel import WebChat
from aibot.config import Config, ConfigError, LoadedConfig
from aibot.config.watch import ConfigReloader
from aibot.core.commands import Commands, ModelCatalog
from aibot.core.dispatcher import Dispatcher
from aibot.core.errors import AccessDenied, CoordinationUnavailable
from aibot.core.events import PlatformEvents
from aibot.core.feedback import Feedback
from aibot.core.inbox import Inbox, Presence, no_presence
from aibot.core.outbox import ChannelSender, Outbox
from aibot.core.service import ChatService
from aibot.core.sessions import SessionMemory
from aibot.core.shared_inbox import SharedInbox
from aibot.gateway.message_path import build_pipeline
from aibot.gateway.registry import build_channels
from aibot.ops.body_limit import BodyLimitMiddleware
from aibot.ops.gc_tuning import tune_for_serving
from aibot.ops.health import build_health_router
from aibot.ops.logging import SecretMasker
from aibot.ops.loop_lag import LoopLagSampler
from aibot.ops.metrics import Metrics
from aibot.policy.cache import AnswerCache, LocalAnswerCache
from aibot.policy.limits import Limiter, LocalLimiter
from aibot.policy.policies import Policies, PolicyHolder, PolicyServices
from aibot.providers.openai_compat import OpenAICompatibleProvider
from aibot.providers.router import ProviderRouter
from aibot.store.engine import create_engine, create_writer_engine, migrate
from aibot.store.pairings import PairingStore
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter

if TYPE_CHECKING:
    from aibot.replicas.coordinator import Coordinator

log = structlog.get_logger("aibot")

SHUTDOWN_GRACE = 20.0
KEYED_PREFIXES = ("/v1/", "/api/v1/")  # every route under these requires an API key


def build_providers(config: Config) -> dict[str, OpenAICompatibleProvider]:
    try:
        return {
            name: OpenAICompatibleProvider(name, provider)
            for name, provider in config.models.providers.items()
        }
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def shared_state(
    config: Config, metrics: Metrics
) -> tuple[Limiter, AnswerCache, Coordinator | None]:
    """Rate limits and the answer cache: in this process, or in Redis when `redis.url` is set
    (the Redis client is imported only then: it is a quarter second of every start). With a
    PostgreSQL store as well, replicas coordinate through the same client (scale-out mode)."""
    if not config.redis.url:
        return LocalLimiter(), LocalAnswerCache(config.policy.cache.max_entries), None
    from aibot.policy.shared import RedisAnswerCache, RedisLimiter, client_for
    from aibot.replicas.coordinator import Coordinator

    client = client_for(config.redis.url)
    coordinator = (
        Coordinator(client, config.redis.lease_ttl, metrics)
        if config.storage.url.startswith("postgresql")
        else None
    )
    return RedisLimiter(client), RedisAnswerCache(client), coordinator


class Gateway:
    def __init__(self, loaded: LoadedConfig, *, clock: Callable[[], float] = time.time) -> None:
        config = self.config = loaded.config
        self.loaded = loaded
        self.metrics = Metrics()
        self.loop_lag = LoopLagSampler(self.metrics)
        self.masker = SecretMasker(config.secrets())
        self.limiter, answers, self.coordinator = shared_state(config, self.metrics)
        coordinator = self.coordinator
        self.engine = create_engine(config.storage.url)
        self.repository = Repository(self.engine, fenced=coordinator is not None)
        self.writer = GroupCommitWriter(
            self.engine, sync_engine=create_writer_engine(config.storage.url)
        )
        self.router = ProviderRouter(
            build_providers(config),
            config.models.default,
            config.models.fallbacks,
            self.metrics,
            breaker_failures=config.models.breaker_failures,
            breaker_cooldown=config.models.breaker_cooldown,
        )
        self.catalog = ModelCatalog(
            list(self.router.providers),
            lambda: self.router.default,
            {n: p.model for n, p in self.router.providers.items()},
        )
        self.memory = SessionMemory(
            self.repository,
            max_turns=config.session.max_turns,
            cache_size=config.session.cache_sessions,
            shared=coordinator is not None,
        )
        self.dispatcher = Dispatcher(
            config.dispatcher.max_concurrency, config.dispatcher.max_queue, self.metrics
        )
        self.policies = PolicyHolder(Policies(config))
        self.pairings = PairingStore(self.engine)
        services = PolicyServices(
            self.limiter, answers, self.pairings, self.metrics, clock, lambda: self.router.default
        )
        self.feedback = Feedback(self.repository, self.writer, self.metrics, clock)
        commands = Commands(self.memory, self.catalog, self.metrics.summary, self.feedback)
        pipeline = build_pipeline(
            memory=self.memory,
            commands=commands,
            router=self.router,
            session=config.session,
            policies=self.policies,
            services=services,
            metrics=self.metrics,
            clock=clock,
        )
        self.reloader = ConfigReloader(loaded, self.policies, self.router)
        self.service = ChatService(
            pipeline,
            self.dispatcher,
            self.writer,
            self.memory,
            self.metrics,
            clock,
            locks=coordinator.locks if coordinator else None,
        )
        self.senders: dict[str, ChannelSender] = {}
        self.outbox = Outbox(
            self.repository,
            self.writer,
            self.senders,
            config.outbox,
            self.metrics,
            clock,
            peers=coordinator.membership if coordinator else None,
        )
        self.inbox = (
            Inbox(
                self.repository, self.writer, self.service, self.metrics, self.outbox.notify, clock
            )
            if coordinator is None
            else SharedInbox(
                self.repository,
                self.writer,
                self.service,
                self.metrics,
                self.outbox.notify,
                clock,
                locks=coordinator.locks,
                flags=coordinator.flags,
            )
        )
        events = PlatformEvents(
            self.repository, self.writer, self.memory, config.events, self.outbox.notify, clock
        )
        self.keys = ApiKeys([k.get_secret_value() for k in config.channels.api.keys])
        self.clock = Clock(now=clock)
        self.channels = build_channels(
            config,
            ChannelContext(
                self.inbox,
                self.metrics,
                config.server.public_url,
                self.feedback,
                events,
                self.clock,
                self.keys,
            ),
        )
        presences: dict[str, Presence] = {}
        for channel in self.channels:
            self.senders[channel.name] = channel
            presences[channel.name] = channel.presence
        self.inbox.presence = lambda inbound: presences.get(inbound.channel, no_presence)(inbound)
        if coordinator is not None:
            coordinator.lead(self.channels)

    @property
    def webchat_requires_key(self) -> bool:
        explicit = self.config.channels.webchat.require_key
        return explicit if explicit is not None else not self.config.server.is_loopback

    async def start(self) -> None:
        self.loop_lag.start()
        await migrate(self.engine)
        await self.keys.start_refreshing(
            ApiKeyStore(self.engine).usable, self.config.channels.api.key_refresh
        )
        self.writer.start()
        await self.inbox.rescan()
        self.inbox.start()
        if self.coordinator is not None:
            await self.coordinator.start()  # before the outbox: it must know who is alive
        self.outbox.start()
        for channel in self.channels:
            if self.coordinator is None or not channel.exclusive:
                await channel.start()
        self.reloader.start_watching()
        self.warn_about_setup()

    async def stop(self) -> None:
        """Finishes what is in flight (bounded), then closes everything; pending rows resume."""
        await self.reloader.stop_watching()
        await self.keys.stop_refreshing()
        for channel in self.channels:
            await channel.stop()
        await self.dispatcher.stop(SHUTDOWN_GRACE)
        await self.inbox.stop()
        await self.outbox.stop()
        if self.coordinator is not None:
            await self.coordinator.stop()
        await self.writer.stop()
        await self.router.close()
        await self.limiter.close()
        for sender in self.senders.values():
            await sender.close()
        await self.engine.dispose()
        await self.loop_lag.stop()

    def problems(self) -> list[str]:
        """Setup problems in words the user can act on; shown on the page and in /readyz."""
        problems = self.router.problems()
        unsupported = self.config.channels.unsupported()
        if unsupported:
            problems.append(
                "channels not available in this version (ignored): " + ", ".join(unsupported)
            )
        return problems

    def warn_about_setup(self) -> None:
        server = self.config.server
        if not server.is_loopback and not self.keys.configured:
            log.warning(
                "PUBLICLY BOUND WITHOUT API KEYS: the web page and API refuse everyone "
                "until channels.api.keys is set",
                host=server.host,
            )
        if self.loaded.missing_env:
            log.warning(
                "config refers to unset environment variables", names=self.loaded.missing_env
            )
        for notice in self.loaded.deprecated:
            log.warning(notice)
        for problem in self.problems():
            log.warning(problem)

    async def readiness(self) -> dict[str, Any]:
        try:
            await self.repository.ping()
            store: dict[str, Any] = {"ok": True, "backend": self.engine.dialect.name}
        except Exception as exc:
            store = {"ok": False, "error": str(exc)[:300]}
        problems = self.router.problems()
        provider = {
            "ok": not problems and self.router.default is not None,
            "default": self.router.default,
            "fallbacks": self.router.fallbacks,
            "circuits": {n: b.state for n, b in self.router.breakers.items()},
            "problems": problems,
        }
        channels: dict[str, dict[str, Any]]
        channels = {
            "web": {
                "ok": self.config.channels.webchat.enabled,
                "requires_key": self.webchat_requires_key,
            },
            "api": {
                "ok": self.keys.configured,
                **(
                    {}
                    if self.keys.configured
                    else {"problem": "no channels.api.keys configured: /v1 and /api/v1 refuse all"}
                ),
            },
        }
        for channel in self.channels:
            status = channel.status()
            if self.coordinator is not None and channel.exclusive:
                role = self.coordinator.role(channel.name)
                # A standby is unconnected by design: healthy while another replica receives.
                status = {**status, "role": role, **({"ok": True} if role == "standby" else {})}
            channels[channel.name] = status
        for name in self.inbox.paused & channels.keys():
            channels[name] = {**channels[name], "paused": True}
        return {
            "ready": bool(store["ok"] and provider["ok"]),
            "version": __version__,
            "store": store,
            "provider": provider,
            "channels": channels,
            "queue": {"waiting": self.dispatcher.queued},
        }


def create_app(loaded: LoadedConfig, *, clock: Callable[[], float] = time.time) -> FastAPI:
    gateway = Gateway(loaded, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        gateway.reloader.listen_for_sighup()
        tune_for_serving()
        log.info(
            "gateway started",
            host=loaded.config.server.host,
            port=loaded.config.server.port,
            store=gateway.engine.dialect.name,
            model=gateway.router.default,
        )
        try:
            yield
        finally:
            await gateway.stop()
            log.info("gateway stopped")

    # FastAPI's built-in OpenTelemetry hooks look up providers on every request; our own
    # metrics cover the same ground, so they are switched off on the per-message path.
    app = FastAPI(
        title="ai-bot gateway",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gateway
    app.add_middleware(BodyLimitMiddleware, max_bytes=loaded.config.server.max_body_bytes)
    _install_error_handlers(app, gateway.keys)
    app.include_router(build_rest_router(gateway.service, gateway.keys, gateway.clock))
    app.include_router(
        build_openai_router(gateway.service, gateway.keys, gateway.catalog, gateway.clock)
    )
    app.include_router(build_health_router(gateway.readiness, gateway.metrics))
    for channel in gateway.channels:
        router = channel.router()
        if router is not None:
            app.include_router(router)
    if loaded.config.admin.enabled:
        AdminConsole(gateway).mount(app)
    if loaded.config.channels.webchat.enabled:
        webchat = WebChat(
            gateway.service,
            gateway.memory,
            gateway.keys,
            gateway.catalog,
            gateway.problems,
            gateway.feedback,
            require_key=gateway.webchat_requires_key,
            title=loaded.config.channels.webchat.title,
            clock=gateway.clock,
        )
        app.include_router(webchat.router())
        app.mount("/static", webchat.static(), name="static")
    return app


def _install_error_handlers(app: FastAPI, keys: ApiKeys) -> None:
    """OpenAI clients expect OpenAI's error shape under /v1; everything else gets ours."""

    @app.exception_handler(AccessDenied)
    async def denied(request: Request, _exc: AccessDenied | None = None) -> JSONResponse:
        if request.url.path.startswith("/v1/"):
            return openai_error(401, "Incorrect API key provided.", "invalid_api_key")
        return error_response(
            401, "missing or invalid API key (Authorization: Bearer <key>)", "invalid_api_key"
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI validates the body before the handler checks the key: a caller without a
        # valid key learns nothing about the API from a validation error, only 401.
        path = request.url.path
        if path.startswith(KEYED_PREFIXES) and keys.principal(bearer_token(request), path) is None:
            return await denied(request)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        if request.url.path.startswith("/v1/"):
            return openai_error(400, problems, "invalid_request")
        return error_response(422, problems, "invalid_request")

    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        """The database (or the Redis replicas coordinate through) is restarting or
        unreachable: a prompt 503 that the caller (or the platform's re-delivery) retries,
        instead of a bare 500 and a dropped connection."""
        log.warning(
            "request failed: the store is unavailable", path=request.url.path, error=str(exc)[:300]
        )
        message, headers = "the store is unavailable; try again in a moment", {"Retry-After": "1"}
        if request.url.path.startswith("/v1/"):
            return openai_error(503, message, "store_unavailable", "server_error", headers)
        return error_response(503, message, "store_unavailable", headers)

    # asyncpg's refused or reset connections reach us unwrapped, the rest as DBAPIError.
    for kind in (DBAPIError, SQLAlchemyTimeoutError, ConnectionError, CoordinationUnavailable):
        app.add_exception_handler(kind, store_down)
