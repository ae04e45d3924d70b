"""A secret given with the wrong YAML type is never echoed by its refusal, as a class: every
secret field of the schema (any `SecretStr` in a field's type, found by walking the models)
gets wrong-typed values carrying a marker (an all-digit token read as an int, a list, a set, a
bare string where a list of keys belongs), and the marker must be in no refusal text — the
refusal in both languages, the CLI in zh_CN and en_US, the reload's log line, the console's
answer to an edit."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
import structlog
import yaml
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr, ValidationError
from typer.testing import CliRunner

from aibot.admin.roles import Role
from aibot.cli.commands import app as cli
from aibot.config import Config, load_config
from aibot.config.refusals import refusal
from aibot.config.watch import ConfigReloader
from aibot.gateway.asgi import create_app
from tests.support.admin_app import LOCAL, Admin

DIGITS = "91827364"  # in every number below, as repr() writes it
WORD = "LEAKMARK"
LEAF = [9182736455463728190, 91827364554637.28, [f"{WORD}-list"], {f"{WORD}-set"}, [918273645]]
# A list or a map of secrets: wrong items, and the whole given as one bare value (a set is a
# list to pydantic, not a map).
ITEMS = [9182736455463728190, [f"{WORD}-nested"]]
WHOLE = [f"{WORD}-bare", 9182736455463728190]
Path_ = tuple[str | int, ...]


def holds_secret(kind: Any) -> bool:
    if kind is SecretStr:
        return True
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return False  # a section: its own fields are walked
    return any(holds_secret(arg) for arg in get_args(kind))


def sections(kind: Any) -> Iterator[tuple[type[BaseModel], Path_]]:
    """The models inside a field's type, with the steps into them (a map's key, a list's 0)."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        yield kind, ()
    elif get_origin(kind) in (Union, types.UnionType):
        for arm in get_args(kind):
            yield from sections(arm)
    elif get_origin(kind) is dict:
        yield from ((model, ("k", *steps)) for model, steps in sections(get_args(kind)[1]))
    elif get_origin(kind) is list:
        yield from ((model, (0, *steps)) for model, steps in sections(get_args(kind)[0]))


def secret_fields(model: type[BaseModel], path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    for name, field in model.model_fields.items():
        if holds_secret(field.annotation):
            yield (*path, name), field.annotation
        for inner, steps in sections(field.annotation):
            yield from secret_fields(inner, (*path, name, *steps))


def wrong_values(kind: Any) -> Iterator[object]:
    containers = [get_origin(arm) for arm in (*get_args(kind), kind)]
    if dict in containers:
        yield from ({"K": item} for item in ITEMS)
        yield from (*WHOLE, {f"{WORD}-set"})
    elif list in containers:
        yield from ([item] for item in ITEMS)
        yield from WHOLE
    else:
        yield from LEAF


def at(path: Path_, value: object) -> dict[str, Any]:
    """A document with `value` at `path` (an int step is a list's first item)."""
    for step in reversed(path):
        value = [value] if isinstance(step, int) else {step: value}
    assert isinstance(value, dict)
    return value


CASES = [
    pytest.param(path, wrong, id=".".join(map(str, path)) + f"={type(wrong).__name__}{n}")
    for path, kind in secret_fields(Config)
    for n, wrong in enumerate(wrong_values(kind))
]


def leaks(text: str) -> bool:
    return DIGITS in text or WORD in text


def test_the_walk_finds_the_secrets_of_every_section() -> None:
    found = {".".join(map(str, path)) for path, _ in secret_fields(Config)}
    assert {
        "channels.api.keys",
        "channels.telegram.bot_token",
        "channels.feishu.app_secret",
        "channels.dingtalk.client_secret",
        "channels.wecom.secret",
        "channels.wecom.encoding_aes_key",
        "models.providers.k.api_key",
        "tools.mcp.k.env",
        "tools.mcp.k.headers",
        "storage.encryption.key",
        "storage.encryption.old_keys",
        "archive.access_key_id",
    } <= found


@pytest.mark.parametrize(("path", "wrong"), CASES)
def test_no_refusal_line_quotes_a_wrong_typed_secret(path: Path_, wrong: object) -> None:
    data = at(path, wrong)
    with pytest.raises(ValidationError) as error:
        Config.model_validate(data)
    refused = refusal(error.value, "config.yaml", data)
    where = ".".join(map(str, path))
    assert any(where in line.say("en") for line in refused.lines), str(refused)
    for said in (str(refused), refused.say("en"), refused.say("zh-CN")):
        assert not leaks(said), said


def test_a_value_not_secret_is_still_quoted() -> None:
    """What the user typed stays in the line where it is no secret (the clue to fix it)."""
    data = {"server": {"port": 918273640}, "channels": {"telegram": {"bot_token": 918273641}}}
    with pytest.raises(ValidationError) as error:
        Config.model_validate(data)
    lines = str(refusal(error.value, "config.yaml", data)).splitlines()
    assert any("server.port" in line and "918273640" in line for line in lines), lines
    assert not any("918273641" in line for line in lines), lines


def test_a_value_at_an_unknown_key_is_not_quoted() -> None:
    """A misspelt secret key is no field of the schema: its value may be the secret."""
    data = {"channels": {"telegram": {"bot_tokn": 918273642, "bot_token": "1:a"}}}
    with pytest.raises(ValidationError) as error:
        Config.model_validate(data)
    said = str(refusal(error.value, "config.yaml", data))
    assert "bot_tokn" in said and not leaks(said), said


def every_secret_wrong(index: int) -> dict[str, Any]:
    """One document with a wrong value at every secret field (the `index`th kind of each)."""
    document: dict[str, Any] = {}
    for path, kind in secret_fields(Config):
        wrongs = list(wrong_values(kind))
        merge(document, at(path, wrongs[index % len(wrongs)]))
    return document


def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


@pytest.mark.parametrize("index", range(len(LEAF)))
@pytest.mark.parametrize("lang", ["zh_CN.UTF-8", "en_US.UTF-8"])
def test_the_cli_says_the_refusal_without_the_secrets(
    tmp_path: Path, index: int, lang: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(every_secret_wrong(index)), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["config", "-c", str(path)], env={"LANG": lang, "LC_ALL": "", "LC_MESSAGES": ""}
    )
    assert result.exit_code == 2, result.output
    assert "bot_token" in result.output
    assert not leaks(result.output), result.output


GOOD = {"channels": {"api": {"keys": ["a-good-key-0123456789"]}}}


async def test_a_refused_reload_logs_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(GOOD), encoding="utf-8")

    async def apply(*_: object) -> None:
        raise AssertionError("a refused file is never applied")

    reloader = ConfigReloader(load_config(path), apply)
    for index in range(len(LEAF)):
        path.write_text(yaml.safe_dump(every_secret_wrong(index)), encoding="utf-8")
        with structlog.testing.capture_logs() as logs:
            assert await reloader.reload("test") is False
        assert any("rejected" in entry["event"] for entry in logs)
        assert not leaks(repr(logs)), logs
        assert reloader.last_refusal is not None
        assert not leaks(reloader.last_refusal.say("zh-CN"))


def test_a_refused_console_edit_shows_no_secret(tmp_path: Path) -> None:
    """The console's edit reloads the whole file: a secret gone wrong by hand is refused with
    it, and the answer names it without quoting it."""
    path = tmp_path / "config.yaml"
    good = {**GOOD, "storage": {"url": f"sqlite:///{tmp_path}/store.db"}}
    path.write_text(yaml.safe_dump(good), encoding="utf-8")
    with TestClient(create_app(load_config(path)), base_url=LOCAL) as client:
        admin = Admin(client)
        headers, csrf = admin.session(Role.OPERATOR)
        for index in range(len(LEAF)):
            broken = {**every_secret_wrong(index), "storage": good["storage"]}
            path.write_text(yaml.safe_dump(broken), encoding="utf-8")
            for language in ("zh-CN", "en"):
                answer = client.post(
                    "/admin/policies",
                    headers={**headers, "Accept-Language": language},
                    data={"csrf": csrf, "words": "", "per_user": "9/minute", "per_chat": ""},
                )
                assert answer.status_code == 400 and "bot_token" in answer.text, answer.text
                assert not leaks(answer.text), answer.text


@pytest.mark.parametrize(
    "endpoint", [f"ftp://minio:{WORD}@s3.local:9000", f"minio:{WORD}@s3.local", f"s3://{WORD}@x/"]
)
def test_a_refused_endpoint_is_quoted_without_its_credentials(endpoint: str) -> None:
    data = {"archive": {"endpoint": endpoint}}
    with pytest.raises(ValidationError) as error:
        Config.model_validate(data)
    refused = refusal(error.value, "config.yaml", data)
    for said in (str(refused), refused.say("en"), refused.say("zh-CN")):
        assert WORD not in said, said
        assert "archive.endpoint" in said and ("s3.local" in said or "@x/" in said), said
