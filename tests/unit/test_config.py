"""Config loading: interpolation, defaults, and errors a user can read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aibot.config import ConfigError, load_config, parse_duration


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_and_dotenv_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DEEPSEEK_API_KEY=from-dotenv\nPORT_X=1234\n")
    monkeypatch.setenv("PORT_X", "2345")  # the real environment wins over .env
    path = write(
        tmp_path,
        """
server: {port: "${PORT_X}"}
models:
  default: ds
  providers:
    ds: {preset: deepseek, api_key: "${DEEPSEEK_API_KEY}", model: "${MODEL:-deepseek-chat}"}
""",
    )
    loaded = load_config(path)
    provider = loaded.config.models.providers["ds"]
    assert provider.api_key is not None
    assert provider.api_key.get_secret_value() == "from-dotenv"
    assert provider.model == "deepseek-chat"
    assert loaded.config.server.port == 2345
    assert loaded.missing_env == []


def test_unset_variables_are_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOPE_KEY", raising=False)
    path = write(tmp_path, 'channels: {api: {keys: ["${NOPE_KEY}"]}}\n')
    loaded = load_config(path)
    assert loaded.missing_env == ["NOPE_KEY"]
    assert loaded.config.channels.api.keys == []  # an empty key must never become a valid key


def test_old_top_level_api_and_webchat_still_load_with_one_notice_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        'api: {keys: ["old-place-key"]}\nwebchat: {title: Old}\n'
        "channels: {webhook: {callback_url: http://127.0.0.1:9/cb}}\n",
    )
    loaded = load_config(path)
    assert [k.get_secret_value() for k in loaded.config.channels.api.keys] == ["old-place-key"]
    assert loaded.config.channels.webchat.title == "Old"
    assert loaded.config.channels.webhook is not None  # the rest of channels: is kept
    assert len(loaded.deprecated) == 2
    assert all(len(line.splitlines()) == 1 for line in loaded.deprecated)
    assert "`api:` section is now `channels.api:`" in loaded.deprecated[0]
    assert "`webchat:` section is now `channels.webchat:`" in loaded.deprecated[1]
    assert load_config(write(tmp_path, "channels: {api: {keys: [k]}}\n")).deprecated == []


def test_admin_trusted_proxies_moved_to_server_and_none_are_trusted_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, item 9: no peer's X-Forwarded-For counts unless configured (it was loopback)."""
    monkeypatch.chdir(tmp_path)
    assert (
        load_config(write(tmp_path, "server: {port: 18789}\n")).config.server.trusted_proxies == []
    )
    loaded = load_config(write(tmp_path, "admin: {trusted_proxies: [10.0.0.0/8], port: 8080}\n"))
    assert loaded.config.server.trusted_proxies == ["10.0.0.0/8"]
    assert loaded.config.admin.port == 8080
    assert ["server.trusted_proxies" in line for line in loaded.deprecated] == [True]
    both = "admin: {trusted_proxies: [10.0.0.1]}\nserver: {trusted_proxies: [10.0.0.2]}\n"
    with pytest.raises(ConfigError, match=r"keep only server\.trusted_proxies"):
        load_config(write(tmp_path, both))
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_config(write(tmp_path, "server: {trusted_proxies: [not-an-address]}\n"))


def test_a_section_in_both_places_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "webchat: {title: A}\nchannels: {webchat: {title: B}}\n")
    with pytest.raises(ConfigError, match=r"webchat: set both here and as channels\.webchat"):
        load_config(path)


def test_validation_errors_are_one_line_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "server: {port: 99999, hots: x}\nsession: {max_turns: lots}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert any("server.port" in line and "99999" in line for line in lines)
    assert any("server.hots" in line and "unknown key" in line for line in lines)
    assert any("session.max_turns" in line for line in lines)


def test_invalid_yaml_names_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "server:\n  port: 1\n bad: [\n")
    with pytest.raises(ConfigError, match=r"line \d+: invalid YAML"):
        load_config(path)


def test_the_file_is_parsed_by_libyaml_and_refused_in_pyyaml_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml parses a file that loads (~4 × less CPU at start); PyYAML's own parser only
    reads one libyaml refuses, for the words of the refusal."""
    pure_parses: list[str] = []
    pure_init = yaml.SafeLoader.__init__

    def counted(loader: yaml.SafeLoader, stream: str) -> None:
        pure_parses.append(stream)
        pure_init(loader, stream)

    monkeypatch.setattr(yaml.SafeLoader, "__init__", counted)
    monkeypatch.chdir(tmp_path)
    assert load_config(write(tmp_path, "server:\n  port: 1234\n")).config.server.port == 1234
    assert pure_parses == []
    with pytest.raises(ConfigError, match=r"found character '\\t' that cannot start any token"):
        load_config(write(tmp_path, "server:\n\tport: 1\n"))
    assert len(pure_parses) == 1


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ai-bot init"):
        load_config(tmp_path / "absent.yaml")


def test_defaults_without_a_file_pick_up_provider_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIBOT_CONFIG", raising=False)
    for name in (
        "OPENAI_API_KEY",
        "MINIMAX_API_KEY",
        "ZHIPUAI_API_KEY",
        "DASHSCOPE_API_KEY",
        "MOONSHOT_API_KEY",
        "SILICONFLOW_API_KEY",
        "AIBOT_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-abc")
    monkeypatch.setenv("AIBOT_API_KEY", "gateway-key-from-env")
    loaded = load_config(None)
    assert loaded.path is None
    assert [k.get_secret_value() for k in loaded.config.channels.api.keys] == [
        "gateway-key-from-env"
    ]
    assert loaded.deprecated == []
    assert loaded.config.models.default == "deepseek"
    assert loaded.config.server.host == "127.0.0.1"
    assert loaded.config.server.port == 18789
    assert loaded.config.storage.url.startswith("sqlite:///data/")


def test_unknown_channels_are_kept_and_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "channels: {whatsapp: {app_id: x}}\n")
    assert load_config(path).config.channels.unsupported() == ["whatsapp"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800.0),
        ("10s", 10.0),
        ("250ms", 0.25),
        ("1h", 3600.0),
        (5, 5.0),
        ("2d", 172800.0),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("", False),
    ],
)
def test_loopback_detection(tmp_path: Path, host: str, loopback: bool) -> None:
    from aibot.config import ServerConfig

    assert ServerConfig(host=host).is_loopback is loopback


def test_default_and_fallbacks_must_name_providers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        """
models:
  default: deepseek
  providers:
    glm: {preset: zhipu, api_key: k}
""",
    )
    with pytest.raises(ConfigError, match=r"'deepseek' is not a provider .*configured: glm"):
        load_config(path)
