"""What a deployment needs to know, taken from the current config plus command-line choices."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from aibot.config import Config, MediaConfig, ServerConfig, upload_body_bytes
from aibot.deploy.providers import ContainerModels, container_models
from aibot.i18n import N_, Phrase

# Seconds a supervisor waits after SIGTERM before killing: uvicorn's graceful shutdown (30 s,
# cli/serve.py) then the gateway's drain (app.SHUTDOWN_GRACE, 20 s), plus a margin.
STOP_TIMEOUT = 60
_SERVER = ServerConfig()
_MEDIA = MediaConfig()
# Values are pasted into unit files, nginx and YAML unquoted: only plain tokens are accepted,
# each checked whole (`fullmatch`: a `$` anchor would let a trailing newline through).
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_ADDRESS = re.compile(r"[A-Za-z0-9.:-]+")
_USER = re.compile(r"[a-z_][a-z0-9_-]*")
_PATH = re.compile(r"/[A-Za-z0-9._/-]*")
_IMAGE = re.compile(r"[A-Za-z0-9._/:@-]+")
_REPLICA = re.compile(r"(\[[A-Fa-f0-9:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})")
_NETWORK = re.compile(r"[A-Fa-f0-9.:]+(/[0-9]{1,3})?")
_URL = re.compile(r"https?://[A-Za-z0-9.\[\]:-]+(:\d{1,5})?/?")


@dataclass(frozen=True)
class DeployOptions:
    host: str = _SERVER.host
    port: int = _SERVER.port
    public_url: str | None = None
    # What a proxy lets through: uploads of `media.max_bytes` (the gateway still refuses other
    # bodies over `server.max_body_bytes` itself).
    max_body_bytes: int = upload_body_bytes(_SERVER.max_body_bytes, _MEDIA)
    domain: str | None = None
    tls: bool = False
    cert_dir: str | None = None
    prefix: str = "/opt/ai-bot"
    config_dir: str = "/etc/ai-bot"
    data_dir: str = "/var/lib/ai-bot"
    user: str = "ai-bot"
    image: str = "ai-bot:latest"
    memory_max: str = "1G"
    memory_high: str = "768M"
    # Proxies whose X-Forwarded-For the gateway believes (`ai-bot run --trusted-proxy`).
    trusted_proxies: tuple[str, ...] = ()
    # nginx: the replicas' addresses (host:port) in scale-out mode; none: the gateway's own.
    replicas: tuple[str, ...] = ()
    log_file: str = "/var/lib/ai-bot/logs/ai-bot.log"
    elasticsearch: str = "http://127.0.0.1:9200"
    # The container's model providers: the config's default (`AIBOT_MODEL_*` override it at run
    # time) and its fallbacks, in order.
    models: ContainerModels = field(default_factory=ContainerModels)

    def __post_init__(self) -> None:
        if self.domain is not None and not _HOST_NAME.fullmatch(self.domain):
            raise ValueError(
                Phrase(
                    N_("not a host name: '{value}' (e.g. bot.example.com)"), {"value": self.domain}
                )
            )
        if not _ADDRESS.fullmatch(self.host):
            raise ValueError(
                Phrase(N_("not an address: '{value}' (e.g. 127.0.0.1)"), {"value": self.host})
            )
        if not _USER.fullmatch(self.user):
            raise ValueError(Phrase(N_("not a user name: '{value}'"), {"value": self.user}))
        for proxy in self.trusted_proxies:
            if not _NETWORK.fullmatch(proxy):
                raise ValueError(
                    Phrase(
                        N_("not an address or network: '{value}' (e.g. 127.0.0.1)"),
                        {"value": proxy},
                    )
                )
        for replica in self.replicas:
            address = _REPLICA.fullmatch(replica)
            if address is None or not 0 < int(address.group(2)) < 65536:
                raise ValueError(
                    Phrase(
                        N_("not a replica's address: '{value}' (e.g. 10.0.0.11:18789)"),
                        {"value": replica},
                    )
                )
        if not _IMAGE.fullmatch(self.image):
            raise ValueError(Phrase(N_("not an image reference: '{value}'"), {"value": self.image}))
        if not _URL.fullmatch(self.elasticsearch):
            raise ValueError(
                Phrase(
                    N_("not an Elasticsearch URL: '{value}' (e.g. http://127.0.0.1:9200)"),
                    {"value": self.elasticsearch},
                )
            )
        for name in ("prefix", "config_dir", "data_dir", "cert_dir", "log_file"):
            value = getattr(self, name)
            if value is not None and not _PATH.fullmatch(value):
                raise ValueError(
                    Phrase(
                        N_(
                            "--{option} must be an absolute path without spaces or quotes "
                            "(got '{value}')"
                        ),
                        {"option": name.replace("_", "-"), "value": value},
                    )
                )

    @classmethod
    def from_config(cls, config: Config, choices: Mapping[str, Any]) -> DeployOptions:
        """The config's address, public URL and body limit (uploads of `media.max_bytes`);
        explicit `choices` (not None) win.

        Without a `domain` choice the host name of `server.public_url` is used, so a config
        that already knows its public address renders a matching nginx site."""
        server = config.server
        base = cls(
            host=server.host,
            port=server.port,
            public_url=server.public_url,
            max_body_bytes=upload_body_bytes(server.max_body_bytes, config.media),
            trusted_proxies=tuple(server.trusted_proxies),
            domain=urlsplit(server.public_url).hostname if server.public_url else None,
            models=container_models(config),
        )
        chosen = replace(base, **{k: v for k, v in choices.items() if v is not None})
        if choices.get("log_file") is None and config.logging.file:
            # A relative logging.file is relative to the service's working directory.
            path = PurePosixPath(chosen.data_dir) / config.logging.file
            chosen = replace(chosen, log_file=str(path))
        return chosen

    @property
    def upstream_address(self) -> str:
        """Where a local proxy reaches the gateway: a wildcard bind is reached on loopback."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
        return f"{host}:{self.port}"

    @property
    def upstream_servers(self) -> tuple[str, ...]:
        """What nginx proxies to: the replicas, else the gateway's own address."""
        return self.replicas or (self.upstream_address,)

    @property
    def certificate_dir(self) -> str:
        return self.cert_dir or f"/etc/letsencrypt/live/{self.domain or 'localhost'}"
