"""Builds every room from config into one running gateway: start, stop, readiness.

The only place rooms meet (with the ASGI app around it, asgi.py): each part gets what it needs
at construction, and nothing is patched onto a part after it was built.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from aibot import __version__, i18n
from aibot.admin.keys import ApiKeyStore
from aibot.channels.api_keys import NO_KEYS, ApiKeys
from aibot.channels.base import ChannelContext, Clock
from aibot.config import Config, ConfigError, LoadedConfig
from aibot.config.watch import ConfigReloader
from aibot.core.commands import Commands, ModelCatalog
from aibot.core.directory import ChannelDirectory
from aibot.core.dispatcher import Dispatcher
from aibot.core.events import PlatformEvents
from aibot.core.feedback import Feedback
from aibot.core.inbox import Inbox
from aibot.core.outbox import Outbox
from aibot.core.service import ChatService
from aibot.core.sessions import SessionMemory
from aibot.core.shared_inbox import SharedInbox
from aibot.gateway.access import AccessTokens
from aibot.gateway.message_path import build_media, build_pipeline
from aibot.gateway.registry import build_channels
from aibot.gateway.reload import LiveSettings
from aibot.gateway.schedules import build_schedules
from aibot.gateway.tools import approval_commands, build_tools
from aibot.ops.logging import SecretMasker
from aibot.ops.loop_lag import LoopLagSampler
from aibot.ops.metrics import Metrics
from aibot.policy.cache import AnswerCache, LocalAnswerCache
from aibot.policy.limits import Limiter, LocalLimiter
from aibot.policy.policies import Policies, PolicyHolder, PolicyServices
from aibot.providers.openai_compat import OpenAICompatibleProvider
from aibot.providers.router import ProviderRouter
from aibot.store.api_keys import KeyReads
from aibot.store.archive.bucket import Bucket
from aibot.store.at_rest import AtRest
from aibot.store.crypto import PLAIN, Cipher, keyring_for
from aibot.store.engine import create_engine, migrate, writer_engine
from aibot.store.pairings import PairingStore
from aibot.store.repository import Repository
from aibot.store.schedules import ScheduleReads, ScheduleRows
from aibot.store.session_read import session_read_for
from aibot.store.writer import GroupCommitWriter

if TYPE_CHECKING:
    from aibot.replicas.coordinator import Coordinator

log = structlog.get_logger("aibot")

SHUTDOWN_GRACE = 20.0


def build_providers(config: Config) -> dict[str, OpenAICompatibleProvider]:
    try:
        return {
            name: OpenAICompatibleProvider(name, provider)
            for name, provider in config.models.providers.items()
        }
    except ValueError as exc:
        phrase = i18n.phrase_of(exc)
        raise (ConfigError(lines=[phrase]) if phrase else ConfigError(str(exc))) from None


def shared_state(
    config: Config, metrics: Metrics
) -> tuple[Limiter, AnswerCache, Coordinator | None]:
    """Rate limits and the answer cache: in this process, or in Redis when `redis.url` is set
    (the Redis client is imported only then: it is a quarter second of every start). With a
    PostgreSQL or MySQL store as well, replicas coordinate through the same client (scale-out
    mode)."""
    if not config.redis.url:
        return LocalLimiter(), LocalAnswerCache(config.policy.cache.max_entries), None
    from aibot.policy.shared import RedisAnswerCache, RedisLimiter, client_for
    from aibot.replicas.coordinator import Coordinator

    client = client_for(config.redis.url)
    coordinator = (
        Coordinator(client, config.redis.lease_ttl, metrics) if config.storage.shareable else None
    )
    return RedisLimiter(client), RedisAnswerCache(client), coordinator


class Gateway:
    def __init__(self, loaded: LoadedConfig, *, clock: Callable[[], float] = time.time) -> None:
        config = self.config = loaded.config
        self.loaded = loaded
        i18n.configure(config.ui.language, config.ui.default_language)
        self.metrics = Metrics()
        self.loop_lag = LoopLagSampler(self.metrics)
        self.masker = SecretMasker(config.secrets())
        self.limiter, answers, self.coordinator = shared_state(config, self.metrics)
        coordinator = self.coordinator
        self.keyring = keyring_for(config.storage.encryption)
        self.cipher: Cipher = self.keyring or PLAIN
        sealed = self.keyring is not None
        self.engine = create_engine(config.storage.url, secure_delete=sealed)
        self.at_rest = AtRest(self.engine, self.keyring, clock=clock)
        self.archive = Bucket(config.archive) if config.archive else None  # console reads it
        reads = session_read_for(config.storage.url, self.engine, config.dispatcher.max_concurrency)
        self.repository = Repository(
            self.engine, fenced=coordinator is not None, cipher=self.cipher, session_read=reads
        )
        self._key_reads = reads if isinstance(reads, KeyReads) else None  # as the polls read
        self.writer = GroupCommitWriter(
            self.engine,
            make_sync_engine=writer_engine(config.storage.url, secure_delete=sealed),
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
            stamps=coordinator.locks if coordinator else None,
        )
        self.dispatcher = Dispatcher(
            config.dispatcher.max_concurrency, config.dispatcher.max_queue, self.metrics
        )
        self.policies = PolicyHolder(Policies(config))
        self.pairings = PairingStore(self.engine)
        api = config.channels.api
        self.access = AccessTokens(config, self.engine, self.cipher, clock)
        self.keys = ApiKeys(
            [k.get_secret_value() for k in api.keys],
            admin_keys=api.admin_keys,
            clock=clock,
            tokens=self.access.verifier if config.auth.jwt.enabled else None,
        )
        services = PolicyServices(
            self.limiter,
            answers,
            self.pairings,
            self.metrics,
            clock,
            lambda: self.router.default,
            admin_key=self.keys.is_admin,
        )
        self.feedback = Feedback(self.repository, self.writer, self.metrics, clock)
        tool_support, self.tools, approvals = build_tools(
            config,
            router=self.router,
            metrics=self.metrics,
            masker=self.masker,
            repository=self.repository,
            writer=self.writer,
            clock=clock,
            on_reply=lambda: self.outbox.notify(),
            board=coordinator.approvals if coordinator else None,
        )
        self.scheduler, reminders = build_schedules(
            config,
            rows=ScheduleRows(  # the tick reads where the polls do (store/pg_read.py)
                self.engine,
                cipher=self.cipher,
                reads=reads if isinstance(reads, ScheduleReads) else None,
            ),
            outbox=self.repository,
            writer=self.writer,
            router=self.router,
            tools=tool_support,
            on_reply=lambda: self.outbox.notify(),
            clock=clock,
        )
        extra = [*approval_commands(), reminders.command()]
        commands = Commands(self.memory, self.catalog, self.metrics.summary, self.feedback, extra)
        self.directory = ChannelDirectory()
        pipeline = build_pipeline(
            memory=self.memory,
            commands=commands,
            router=self.router,
            session=config.session,
            policies=self.policies,
            services=services,
            metrics=self.metrics,
            clock=clock,
            tools=tool_support,
            max_message_chars=config.server.max_message_chars,
            media=build_media(config, self, clock),
        )
        live = LiveSettings(self.policies, self.router, self.keys)
        self.reloader = ConfigReloader(loaded, live.apply, live.watched_files)
        self.service = ChatService(
            pipeline,
            self.dispatcher,
            self.writer,
            self.memory,
            self.metrics,
            clock,
            locks=coordinator.locks if coordinator else None,
            max_message_chars=config.server.max_message_chars,
        )
        self.outbox = Outbox(
            self.repository,
            self.writer,
            self.directory,
            config.outbox,
            self.metrics,
            clock,
            peers=coordinator.membership if coordinator else None,
            mask=self.masker.mask_configured,
        )
        queues = (self.repository, self.writer, self.service, self.metrics, self.outbox.notify)
        window = config.media.album_window  # an album's pictures are answered as one message
        self.inbox = (
            Inbox(*queues, clock, channels=self.directory, approvals=approvals, batch_window=window)
            if coordinator is None
            else SharedInbox(
                *queues,
                clock,
                locks=coordinator.locks,
                flags=coordinator.flags,
                memory=self.memory,
                channels=self.directory,
                approvals=approvals,
                batch_window=window,
            )
        )
        events = PlatformEvents(
            self.repository, self.writer, self.memory, config.events, self.outbox.notify, clock
        )
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
            self.directory,
        )
        if coordinator is not None:
            coordinator.lead(self.channels)

    @property
    def webchat_requires_key(self) -> bool:
        explicit = self.config.channels.webchat.require_key
        return explicit if explicit is not None else not self.config.server.is_loopback

    async def start(self) -> None:
        self.loop_lag.start()
        await migrate(self.engine)
        await self.at_rest.start()
        await self.keys.start_refreshing(
            ApiKeyStore(self.engine, self._key_reads).usable, self.config.channels.api.key_refresh
        )
        self.writer.start()
        await self.inbox.rescan()
        self.inbox.start()
        if self.coordinator is not None:
            await self.coordinator.start()  # before the outbox: it must know who is alive
        self.outbox.start()
        self.scheduler.start()
        for channel in self.channels:
            if self.coordinator is None or not channel.exclusive:
                await channel.start()
        self.reloader.start_watching()
        self.warn_about_setup()

    async def stop(self) -> None:
        """Finishes what is in flight (bounded), then closes everything; pending rows resume."""
        await self.reloader.stop_watching()
        await self.keys.stop_refreshing()
        await self.access.close()
        for channel in self.channels:
            await channel.stop()
        await self.dispatcher.stop(SHUTDOWN_GRACE)
        await self.inbox.stop()
        await self.scheduler.stop()
        await self.outbox.stop()
        if self.coordinator is not None:
            await self.coordinator.stop()
        await self.at_rest.stop()
        self.service.message_log.flush()
        await self.writer.stop()
        await self.repository.close()
        await self.router.close()
        await self.tools.close()
        await self.limiter.close()
        for sender in self.directory.senders():
            await sender.close()
        await self.engine.dispose()
        await self.loop_lag.stop()

    def problems(self, language: str = "en") -> list[str]:
        """What keeps the gateway from answering, in words the user can act on: setup problems,
        then why the model providers are failing now; shown on the page and in /readyz."""
        problems = self.router.problems(language) + self.router.outage(language).causes
        unsupported = self.config.channels.unsupported()
        if unsupported:
            problems.append(
                i18n.translate(
                    language,
                    "channels not available in this version (ignored): {names}",
                    names=i18n.join_list(language, unsupported),
                )
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

    def _provider_readiness(self, language: str) -> dict[str, Any]:
        """Ready while the default provider or a fallback can answer: not while the key was
        rejected, the vendor is unreachable or every circuit is open (with the cause kept)."""
        router = self.router
        setup, outage = router.problems(language), router.outage(language)
        failures = {n: router.health.last_failure(n) for n in router.providers}
        return {
            "ok": not setup and router.default is not None and outage.answering,
            "default": router.default,
            "fallbacks": router.fallbacks,
            "circuits": {n: b.state for n, b in router.breakers.items()},
            "problems": setup + outage.causes,
            "last_errors": {
                name: {"kind": f.kind, "status": f.status, "at": f.at}
                for name, f in failures.items()
                if f is not None
            },
        }

    async def readiness(self, language: str = "en") -> dict[str, Any]:
        """The /readyz report; its sentences in `language` (the caller's Accept-Language)."""
        try:
            await self.repository.ping()
            store: dict[str, Any] = {"ok": True, "backend": self.engine.name}
        except Exception as exc:
            store = {"ok": False, "error": self.masker.mask_text(str(exc))[:300]}
        provider = self._provider_readiness(language)
        channels: dict[str, dict[str, Any]]
        channels = {
            "web": {
                "ok": self.config.channels.webchat.enabled,
                "requires_key": self.webchat_requires_key,
            },
            "api": {
                "ok": self.keys.configured,
                **({} if self.keys.configured else {"problem": i18n.translate(language, NO_KEYS)}),
            },
        }
        for channel in self.channels:
            status = channel.status(language)
            if self.coordinator is not None and channel.exclusive:
                role = self.coordinator.role(channel.name)
                # A standby is unconnected by design: healthy while another replica receives.
                status = {**status, "role": role, **({"ok": True} if role == "standby" else {})}
            channels[channel.name] = status
        for name in self.inbox.paused & channels.keys():
            channels[name] = {**channels[name], "paused": True}
        readiness = {
            "ready": bool(store["ok"] and provider["ok"]),
            "version": __version__,
            "store": store,
            "provider": provider,
            "channels": channels,
            "queue": {"waiting": self.dispatcher.queued},
            "mcp": self.tools.status(),  # started on first use; never blocks readiness
        }
        return dict(self.masker.mask_strings(readiness))
