"""`ai-bot deploy`: the nginx site (proxying, uploads, TLS) and the options refused.

The artefacts are checked by the tools that will read them (systemd-analyze, nginx -t, our own
config loader).
"""

from __future__ import annotations

import datetime
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aibot.config import Config
from aibot.deploy.options import DeployOptions
from aibot.deploy.render import render, render_nginx
from aibot.gateway.media import upload_limit
from tests.support.cli import AI_BOT, COLUMNS
from tests.support.deploy_tools import REPO, nginx_test


def self_signed(directory: Path, domain: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_http_site_passes_nginx_t_and_proxies_websockets(tmp_path: Path) -> None:
    site = render_nginx(
        DeployOptions(port=8080, max_body_bytes=2_000_000, domain="bot.example.com")
    )["ai-bot.conf"]
    result = nginx_test(tmp_path, site)
    assert result.returncode == 0, result.stderr
    assert "server 127.0.0.1:8080;" in site and "server_name bot.example.com;" in site
    assert "client_max_body_size 2000000;" in site
    ws = site[site.index("location /ws") : site.index("location / {")]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $ai_bot_8080_connection;" in ws
    assert "proxy_read_timeout 1h;" in ws and "proxy_set_header Host $host;" in ws
    assert "proxy_buffering off;" in site  # streamed answers
    assert re.search(r"location = /metrics \{\s+deny all;", site)


def test_the_site_lets_uploads_of_media_max_bytes_through(tmp_path: Path) -> None:
    """nginx takes what the gateway takes on its upload paths: a file of `media.max_bytes` in
    its multipart form (the gateway itself keeps `server.max_body_bytes` for other bodies)."""
    config = Config.model_validate({"media": {"max_bytes": 30 * 1024 * 1024}})
    options = DeployOptions.from_config(config, {})
    site = render_nginx(options)["ai-bot.conf"]
    result = nginx_test(tmp_path, site)
    assert result.returncode == 0, result.stderr
    limit = upload_limit(config)
    assert limit > 30 * 1024 * 1024 and f"client_max_body_size {limit};" in site
    assert f'proxy-body-size: "{limit}"' in render("k8s", options)["ingress.yaml"]
    default = render_nginx(DeployOptions())["ai-bot.conf"]
    assert f"client_max_body_size {upload_limit(Config())};" in default


def test_tls_site_passes_nginx_t_and_redirects_http(tmp_path: Path) -> None:
    self_signed(tmp_path, "bot.example.com")
    site = render_nginx(DeployOptions(domain="bot.example.com", tls=True, cert_dir=str(tmp_path)))[
        "ai-bot.conf"
    ]
    result = nginx_test(tmp_path, site)
    assert result.returncode == 0, result.stderr
    assert "return 301 https://$host$request_uri;" in site
    assert "listen 443 ssl http2;" in site and "/.well-known/acme-challenge/" in site


def test_broken_site_fails_nginx_t(tmp_path: Path) -> None:
    """The nginx check above can fail: a site with a typo does."""
    site = render_nginx(DeployOptions())["ai-bot.conf"].replace(
        "proxy_buffering off", "proxy_bufering off"
    )
    assert nginx_test(tmp_path, site).returncode != 0


def test_tls_says_a_certificate_is_needed_first(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(AI_BOT),
            "deploy",
            "nginx",
            "--tls",
            "--domain",
            "bot.example.com",
            "--cert-dir",
            str(tmp_path / "certs"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"COLUMNS": COLUMNS, "LANG": "en_US.UTF-8"},
    )
    assert result.returncode == 0, result.stderr
    assert f"until {tmp_path}/certs/fullchain.pem exists" in result.stderr
    assert "certbot certonly --webroot -w /var/www/letsencrypt -d bot.example.com" in result.stderr


def deploy_refusal(args: list[str], lang: str) -> subprocess.CompletedProcess[str]:
    """`ai-bot deploy ARGS` in a terminal whose locale is `lang`."""
    return subprocess.run(
        [str(AI_BOT), "deploy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO / "deploy",
        env={"COLUMNS": COLUMNS, "LANG": lang},
    )


def test_tls_without_a_domain_is_refused() -> None:
    result = deploy_refusal(["nginx", "--tls"], "en_US.UTF-8")
    assert result.returncode == 2 and "needs a domain" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nginx", "--domain", "bot.example.com; evil"], "not a host name"),
        (["systemd", "--prefix", "/opt/my bot"], "--prefix must be an absolute path"),
        (["systemd", "--host", "127.0.0.1 --evil"], "not an address"),
        (["k8s", "--image", "ai-bot\n  evil: 1"], "not an image reference"),
        # A trailing newline passes a `$`-anchored pattern: each value is checked whole.
        (["nginx", "--domain", "bot.example.com\n"], "not a host name"),
        (["systemd", "--prefix", "/opt/ai-bot\n"], "--prefix must be an absolute path"),
        (["k8s", "--image", "ai-bot:latest\n"], "not an image reference"),
        (["systemd", "--trusted-proxy", "10.0.0.1\n"], "not an address or network"),
    ],
)
def test_values_that_would_inject_into_the_files_are_refused(args: list[str], message: str) -> None:
    result = deploy_refusal(args, "en_US.UTF-8")
    assert result.returncode == 2 and message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nginx", "--tls"], "启用 TLS 的站点需要域名"),
        (["k8s", "--image", "ai-bot\n  evil: 1"], "不是有效的镜像名"),
        (["systemd", "--prefix", "/opt/my bot"], "须是不含空格和引号的绝对路径"),
    ],
)
def test_a_refused_option_reads_in_the_terminals_language(args: list[str], message: str) -> None:
    result = deploy_refusal(args, "zh_CN.UTF-8")
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_wildcard_bind_is_proxied_on_loopback() -> None:
    assert DeployOptions(host="0.0.0.0", port=1).upstream_address == "127.0.0.1:1"
    assert DeployOptions(host="::", port=1).upstream_address == "[::1]:1"
    assert DeployOptions(host="10.1.2.3", port=1).upstream_address == "10.1.2.3:1"
