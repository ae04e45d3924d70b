"""Language choice and translation: what `aibot.i18n` promises every room that calls it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aibot import i18n
from aibot.channels.names import channel_name
from aibot.core.messages import ReplyTarget
from aibot.i18n.negotiate import from_accept_language


@pytest.fixture(autouse=True)
def _auto() -> Iterator[None]:
    i18n.configure("auto", "zh-CN")
    yield
    i18n.configure("auto", "zh-CN")


def test_translate_fills_placeholders_in_both_languages() -> None:
    assert i18n.translate("en", "This chat now uses {model}.", model="glm") == (
        "This chat now uses glm."
    )
    assert (
        i18n.translate("zh-CN", "This chat now uses {model}.", model="glm")
        == "此会话已切换为 glm。"
    )


def test_a_string_without_translation_falls_back_to_the_english() -> None:
    assert i18n.translate("zh-CN", "Not in any catalog: {x}", x=1) == "Not in any catalog: 1"


def test_parameter_values_are_never_read_as_templates() -> None:
    hostile = "{__class__} {0} {model.__dict__}"
    assert i18n.translate("zh-CN", "This chat now uses {model}.", model=hostile) == (
        f"此会话已切换为 {hostile}。"
    )


def test_a_missing_parameter_gives_the_text_not_an_error() -> None:
    assert i18n.translate("en", "This chat now uses {model}.") == "This chat now uses {model}."


def test_plural_forms_follow_each_language() -> None:
    assert i18n.translate_plural("en", "{n} turn", "{n} turns", 1) == "1 turn"
    assert i18n.translate_plural("en", "{n} turn", "{n} turns", 3) == "3 turns"


def test_a_channel_is_named_in_the_readers_language() -> None:
    assert [channel_name("zh-CN", c) for c in ("feishu", "wecom", "web")] == [
        "飞书",
        "企业微信",
        "网页聊天",
    ]
    assert channel_name("en", "openai") == "OpenAI-compatible API"
    assert channel_name("zh-CN", "slack") == "slack"  # a later version's channel, as it is


def test_a_list_in_a_sentence_takes_each_languages_punctuation() -> None:
    names, steps = ["OPENAI_API_KEY", "AIBOT_API_KEY"], ["signed", "HTTP 200"]
    assert i18n.join_list("en", names) == "OPENAI_API_KEY, AIBOT_API_KEY"
    assert i18n.join_list("en", steps, clauses=True) == "signed; HTTP 200"
    assert i18n.join_list("zh-CN", names) == "OPENAI_API_KEY、AIBOT_API_KEY"
    assert i18n.join_list("zh-CN", iter(steps), clauses=True) == "signed；HTTP 200"
    assert i18n.join_list("zh-CN", []) == ""


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,en;q=0.5,zh;q=0.7", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh-Hant-HK", "zh-CN"),
        ("en_GB.UTF-8", "en"),
        ("zh;q=0, en", "en"),
        ("fr, de", None),
        ("*", None),
        ("en;q=abc", None),
        ("", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_a_huge_header_is_read_only_in_part() -> None:
    assert from_accept_language("fr," * 100_000 + "en") is None


def test_auto_takes_the_first_hint_served_else_the_default() -> None:
    assert i18n.pick(None, "fr", "en-US") == "en"
    assert i18n.pick(None) == "zh-CN"
    i18n.configure("auto", "en")
    assert i18n.pick("de") == "en"


def test_a_configured_language_wins_over_every_hint() -> None:
    i18n.configure("en", "zh-CN")
    assert i18n.pick("zh-CN") == "en"
    i18n.configure("zh-CN", "en")
    assert i18n.pick("en-US,en") == "zh-CN"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "zh-CN"),
        ({}, "zh-CN"),
    ],
)
def test_terminal_language_reads_the_posix_locale(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert i18n.terminal_language() == expected


def test_the_locale_of_a_reply_target_survives_storage() -> None:
    target = ReplyTarget(42, "private", locale="en-US")
    assert ReplyTarget.from_json(target.to_json()).locale == "en-US"
    assert ReplyTarget.from_json({"chat_id": 42, "locale": ["en"]}).locale is None
