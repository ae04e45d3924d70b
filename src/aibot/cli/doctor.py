"""`ai-bot doctor`: check the setup end to end and say, per problem, how to fix it.

The checks do what `ai-bot run` will do (open the store, call each model, bind the port) so a
green table means the gateway will start and answer; they also look at who can read the secret
files and whether this machine's clock agrees with the providers'. Warnings (⚠) do not fail
the run; only problems that stop the gateway from answering (✘) make the exit code 1.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

from rich.table import Table
from rich.text import Text

from aibot.cli.common import console, listed, said, tr
from aibot.cli.doctor_data import data_checks
from aibot.cli.doctor_gateway import running_gateway
from aibot.cli.doctor_host import clock_check, secret_file_checks, store_file_checks
from aibot.cli.probe import describe_failure, probe
from aibot.config import Config, LoadedConfig, ProviderConfig
from aibot.gateway.registry import channel_checks
from aibot.i18n import N_, terminal_language
from aibot.ops.checks import Check, Status
from aibot.ops.logging import SecretMasker, mask_value
from aibot.providers.base import ProviderError
from aibot.providers.openai_compat import OpenAICompatibleProvider
from aibot.store.engine import create_engine, ping

STORE_TIMEOUT = 10.0
_MARKS: dict[Status, str] = {"ok": "[green]✔[/]", "warn": "[yellow]⚠[/]", "fail": "[red]✘[/]"}
_INIT_HINT = N_("run `ai-bot init`, or put a key such as DEEPSEEK_API_KEY=... in .env")


def run_doctor(loaded: LoadedConfig) -> int:
    """Print every check; 0 when nothing essential failed, else 1."""
    config = loaded.config
    files = store_file_checks(config)  # before the store check opens (and tightens) the store
    live = asyncio.run(_live_checks(config))
    port = _port(config.server.host, config.server.port)
    if port.status == "warn":  # busy: by the gateway itself? Then its readiness is the check
        port = asyncio.run(running_gateway(config)) or port
    checks = [
        _config_file(loaded),
        *_unset_variables(loaded),
        *secret_file_checks(loaded),
        *files,
        *live,
        *_routing(config),
        _api_keys(config),
        _bind_address(config),
        port,
        *_unsupported_channels(config),
    ]
    _print(checks, SecretMasker(config.secrets()))
    return 1 if any(c.status == "fail" for c in checks) else 0


def _print(checks: list[Check], masker: SecretMasker) -> None:
    """Provider messages may echo a key back, so every cell goes through the log masker."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("", tr("check"), tr("result"), tr("fix")):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(
            _MARKS[check.status],
            check.name,
            Text(masker.mask_text(check.detail)),
            Text(masker.mask_text(check.fix)),
        )
    console.print(table, highlight=False)
    failed = sum(c.status == "fail" for c in checks)
    if failed:
        line = tr("{n} problem(s) to fix before `ai-bot run` will answer.", n=failed)
        console.print(line, style="red", markup=False, highlight=False)
    else:
        console.print(tr("all essential checks passed"), style="green", markup=False)


def _config_file(loaded: LoadedConfig) -> Check:
    if loaded.path is None:
        return Check(
            tr("config file"),
            "warn",
            tr("none found: running on defaults"),
            tr("run `ai-bot init`, or pass -c / set AIBOT_CONFIG"),
        )
    return Check(tr("config file"), "ok", tr("{path} (valid)", path=str(loaded.path)))


def _unset_variables(loaded: LoadedConfig) -> list[Check]:
    if not loaded.missing_env:
        return []
    env_file = (loaded.path.parent if loaded.path else Path()) / ".env"
    return [
        Check(
            tr("environment"),
            "fail",
            tr("unset: {names}", names=listed(loaded.missing_env)),
            tr("add them to {path} or export them", path=str(env_file)),
        )
    ]


async def _live_checks(config: Config) -> list[Check]:
    """The store, every provider and every channel are checked at once, so the slowest sets
    the wait."""
    core, channels = await asyncio.gather(
        _core_checks(config), channel_checks(config, terminal_language())
    )
    if config.redis.url or config.storage.shareable:
        from aibot.replicas.doctor import replicas_check  # loads the Redis client

        core.append(await replicas_check(config))
    return core + await data_checks(config) + channels


async def _core_checks(config: Config) -> list[Check]:
    providers = config.models.providers
    if not providers:
        no_model = Check(tr("model"), "fail", tr("no model provider configured"), tr(_INIT_HINT))
        return [await _storage(config.storage.url), no_model]
    storage, probed = await asyncio.gather(
        _storage(config.storage.url),
        asyncio.gather(*(_provider(name, provider) for name, provider in providers.items())),
    )
    skews = {
        name: skew
        for name, (_check, skew) in zip(providers, probed, strict=True)
        if skew is not None
    }
    return [storage, *(check for check, _skew in probed), clock_check(skews)]


async def _storage(url: str) -> Check:
    try:
        engine = create_engine(url)
    except Exception as exc:
        return Check(
            tr("storage"),
            "fail",
            tr("cannot use storage.url: {problem}", problem=str(exc)),
            tr("fix storage.url (sqlite:///path, postgresql://... or mysql://...)"),
        )
    backend = engine.dialect.name
    try:
        async with asyncio.timeout(STORE_TIMEOUT):
            await ping(engine)
    except Exception as exc:
        return Check(
            tr("storage"),
            "fail",
            f"{backend}: {str(exc).splitlines()[0][:200]}",
            tr("check that the database is running and storage.url is right"),
        )
    finally:
        await engine.dispose()
    return Check(tr("storage"), "ok", tr("{backend} reachable", backend=backend))


async def _provider(name: str, config: ProviderConfig) -> tuple[Check, float | None]:
    """The check, and the clock skew against the provider's Date header when it answered."""
    label = tr("model {name}", name=name)
    try:
        client = OpenAICompatibleProvider(name, config)
    except ValueError as exc:
        return Check(label, "fail", said(exc), tr("fix the preset name or set base_url")), None
    where = tr("{model} at {url}", model=client.model, url=client.base_url)
    if client.needs_key and not client.has_key:
        fix = (
            tr("set {variable} in .env", variable=client.env_key)
            if client.env_key
            else tr("set models.providers.{name}.api_key", name=name)
        )
        return Check(label, "fail", tr("{where}: no API key", where=where), fix), None
    key = (
        tr(", key {masked}", masked=mask_value(config.api_key.get_secret_value()))
        if config.api_key
        else ""
    )
    try:
        probed = await probe(name, config)
    except ProviderError as exc:
        failure = describe_failure(exc, client.base_url, client.model)
        return Check(label, "fail", f"{where}{key}: {failure.problem}", failure.fix), None
    answered = tr("answered in {ms} ms", ms=f"{probed.latency * 1000:.0f}")
    return Check(label, "ok", f"{where}{key}: {answered}"), probed.clock_skew


def _routing(config: Config) -> list[Check]:
    """The router quietly falls back to the first provider; a typo here deserves a word."""
    models = config.models
    if not models.providers:
        return []  # the model check already says what to do
    unknown = [n for n in (models.default, *models.fallbacks) if n and n not in models.providers]
    if unknown:
        return [
            Check(
                tr("routing"),
                "warn",
                tr("not a configured provider: {names}", names=listed(unknown)),
                tr("use names from models.providers: {names}", names=listed(models.providers)),
            )
        ]
    default = models.default or next(iter(models.providers))
    chain = [default, *(f for f in models.fallbacks if f != default)]
    return [Check(tr("routing"), "ok", " → ".join(chain))]


def _api_keys(config: Config) -> Check:
    count = len(config.channels.api.keys)
    if count:
        return Check(tr("api keys"), "ok", tr("{n} key(s) for /v1 and /api/v1", n=count))
    return Check(
        tr("api keys"),
        "warn",
        tr("none: /v1 and /api/v1 refuse every caller"),
        tr(
            "set AIBOT_API_KEY in .env and channels: {setting}",
            setting='{api: {keys: ["${AIBOT_API_KEY}"]}}',
        ),
    )


def _bind_address(config: Config) -> Check:
    server = config.server
    if server.is_loopback:
        return Check(tr("bind address"), "ok", tr("{host} (this machine only)", host=server.host))
    if config.channels.api.keys:
        return Check(
            tr("bind address"),
            "ok",
            tr("{host}: reachable from the network, API keys required", host=server.host),
        )
    return Check(
        tr("bind address"),
        "warn",
        tr(
            "{host} is reachable from the network and no channels.api.keys are set",
            host=server.host,
        ),
        tr("set channels.api.keys, or server.host: 127.0.0.1 behind a reverse proxy"),
    )


def _port(host: str, port: int) -> Check:
    """Bind the way uvicorn will (SO_REUSEADDR), so TIME_WAIT leftovers don't count as busy."""
    name = tr("port {port}", port=port)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        return Check(
            name,
            "fail",
            tr("cannot resolve server.host {host}: {reason}", host=repr(host), reason=exc.strerror),
            tr("set server.host to an address of this machine"),
        )
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return Check(
                    name,
                    "warn",
                    tr("in use on {host} — is ai-bot already running?", host=host),
                    tr("stop the other process or change server.port"),
                )
            return Check(
                name,
                "fail",
                tr(
                    "cannot bind {host}:{port}: {reason}", host=host, port=port, reason=exc.strerror
                ),
                tr("use a port above 1024 and an address of this machine"),
            )
    return Check(name, "ok", tr("free on {host}", host=host))


def _unsupported_channels(config: Config) -> list[Check]:
    names = config.channels.unsupported()
    if not names:
        return []
    return [
        Check(
            tr("channels"),
            "warn",
            tr("not available in this version: {names}", names=listed(names)),
            tr("remove them from channels: or upgrade ai-bot"),
        )
    ]
