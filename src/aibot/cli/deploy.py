"""`ai-bot deploy KIND`: print or write the deployment artefacts for the current config."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aibot.cli.common import (
    console,
    fail,
    listed,
    load_or_exit,
    problem,
    said,
    tr,
)
from aibot.cli.options import ConfigOption
from aibot.config import ConfigError
from aibot.i18n import N_

if TYPE_CHECKING:
    from aibot.deploy.providers import ContainerModels

DEPLOY_HELP = N_(
    "Render the systemd units, nginx site, Dockerfile, Compose file, Kubernetes manifests or a "
    "Filebeat config that ships the log file to Elasticsearch.\n\nPort, address, public URL and "
    "body limit come from the config, so what you review here is what install.sh writes; flags "
    "override them."
)


class Kind(StrEnum):
    systemd = "systemd"
    nginx = "nginx"
    docker = "docker"
    compose = "compose"
    k8s = "k8s"
    filebeat = "filebeat"


def deploy(
    kind: Annotated[Kind, typer.Argument(help=N_("What to render."))],
    config: ConfigOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help=N_("Write the files into this directory instead of printing them.")),
    ] = None,
    host: Annotated[str | None, typer.Option(help=N_("Override server.host."))] = None,
    port: Annotated[
        int | None, typer.Option(help=N_("Override server.port."), min=1, max=65535)
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            help=N_(
                "Public host name (nginx server_name, Ingress host); default: server.public_url's."
            )
        ),
    ] = None,
    tls: Annotated[
        bool,
        typer.Option(
            help=N_(
                "nginx: serve https with the Let's Encrypt certificate of --domain (get it "
                "first: see the note this prints)."
            )
        ),
    ] = False,
    cert_dir: Annotated[
        str | None,
        typer.Option(
            help=N_(
                "nginx: directory with fullchain.pem and privkey.pem "
                "(default: /etc/letsencrypt/live/DOMAIN)."
            ),
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(help=N_("systemd: install prefix holding venv/ (default: /opt/ai-bot).")),
    ] = None,
    config_dir: Annotated[
        str | None,
        typer.Option(help=N_("systemd: directory of config.yaml and .env (default: /etc/ai-bot).")),
    ] = None,
    data_dir: Annotated[
        str | None,
        typer.Option(help=N_("systemd: the only writable directory (default: /var/lib/ai-bot).")),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(help=N_("systemd: the service's system user (default: ai-bot).")),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(help=N_("compose/k8s: container image (default: ai-bot:latest).")),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help=N_(
                "systemd: a reverse proxy (IP or CIDR) whose X-Forwarded-For the gateway "
                "believes; repeat for several (default: server.trusted_proxies)."
            ),
        ),
    ] = None,
    replica: Annotated[
        list[str] | None,
        typer.Option(
            help=N_(
                "nginx: a replica's address (host:port) in scale-out mode; repeat for each. "
                "With two or more, a conversation (X-Session-Id) keeps to one replica and a "
                "browser's web chat to one (default: the gateway's own address)."
            ),
        ),
    ] = None,
    log_file: Annotated[
        str | None,
        typer.Option(
            help=N_(
                "filebeat: the log file to ship (default: logging.file under --data-dir, else "
                "/var/lib/ai-bot/logs/ai-bot.log)."
            ),
        ),
    ] = None,
    elasticsearch: Annotated[
        str | None,
        typer.Option(help=N_("filebeat: Elasticsearch URL (default: http://127.0.0.1:9200).")),
    ] = None,
) -> None:
    from aibot.deploy.options import DeployOptions
    from aibot.deploy.render import render

    loaded = load_or_exit(config)
    try:
        options = DeployOptions.from_config(
            loaded.config,
            {
                "host": host,
                "port": port,
                "domain": domain,
                "tls": tls or None,
                "cert_dir": cert_dir,
                "prefix": prefix,
                "config_dir": config_dir,
                "data_dir": data_dir,
                "user": user,
                "image": image,
                "trusted_proxies": tuple(trusted_proxy) if trusted_proxy else None,
                "replicas": tuple(replica) if replica else None,
                "log_file": log_file,
                "elasticsearch": elasticsearch,
            },
        )
        rendered = render(kind.value, options)
    except ValueError as exc:
        fail(said(exc))
    except ConfigError as exc:
        fail(problem(exc))
    if kind.value in KEY_NOTES:
        _key_note(KEY_NOTES[kind.value], options.models)
    if kind.value == "nginx" and options.replicas:
        typer.echo(
            tr(
                "note: run each replica with --trusted-proxy set to this nginx's address as "
                "the replicas see it (or server.trusted_proxies), else every client has "
                "nginx's address; send the conversation's X-Session-Id on REST calls too, so "
                "they keep to one replica as /v1 calls do"
            ),
            err=True,
        )
    elif kind.value == "nginx" and not options.trusted_proxies:
        typer.echo(
            tr(
                "note: behind this nginx, run the gateway with --trusted-proxy 127.0.0.1 "
                "--trusted-proxy ::1 (or set server.trusted_proxies), else every client has "
                "nginx's address (`ai-bot deploy systemd --trusted-proxy 127.0.0.1` renders "
                "it; install.sh does this)",
            ),
            err=True,
        )
    if kind.value == "nginx" and options.tls:
        _certificate_note(options.certificate_dir, options.domain or "")
    if out is None:
        for name, content in rendered.items():
            typer.echo(f"# ==> {name} <==")
            typer.echo(content, nl=False)
        return
    for name, content in rendered.items():
        target = out / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        except OSError as exc:
            fail(tr("cannot write {path}: {reason}", path=str(target), reason=exc.strerror))
        console.print(tr("wrote {path}", path=str(target)), highlight=False, markup=False)


# Where each container kind reads the model providers' keys from.
KEY_NOTES = {
    "compose": N_(
        "note: the container reads each model provider's API key from its own variable; "
        "put them in .env beside docker-compose.yml: {variables}"
    ),
    "k8s": N_(
        "note: the container reads each model provider's API key from its own variable; "
        "put them in the ai-bot-secrets Secret: {variables}"
    ),
}


def _key_note(template: str, models: ContainerModels) -> None:
    """The default and every fallback read their own key: name each variable and its provider,
    so no fallback starts without its key unnoticed."""
    variables = listed(f"{var} ({name})" for var, name in models.key_variables.items())
    typer.echo(tr(template, variables=variables), err=True)


def _certificate_note(cert_dir: str, domain: str) -> None:
    """nginx refuses to start on a TLS site whose certificate is missing: say so before the
    site is installed, with the command that gets one."""
    certificate = Path(cert_dir) / "fullchain.pem"
    if certificate.exists():
        return
    typer.echo(
        tr(
            "note: nginx will not start with this site until {path} exists. Get the certificate "
            "first (the HTTP site serves the challenge): certbot certonly --webroot -w "
            "/var/www/letsencrypt -d {domain}",
            path=str(certificate),
            domain=domain,
        ),
        err=True,
    )
