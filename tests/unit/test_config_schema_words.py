"""`ai-bot config --schema` in the reader's language (issue 18): every key's description, the
section lines and the table's own words in Chinese under a Chinese locale, in English under an
English one; the models themselves (and any JSON schema made from them) keep the English.

The descriptions are `Field(description=N_("…"))`, so the catalog test requires a Chinese for
each; the literal check below keeps a new description from skipping the marker.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from aibot.cli.config_view import SchemaRow, schema_sections
from aibot.config import Config
from aibot.i18n import template
from tests.support.cli import ai_bot
from tests.support.page_words import HAN, Piece, english_sentences

CONFIG = Path(__file__).resolve().parents[2] / "src" / "aibot" / "config"
CODE = re.compile(r"(`[^`]*`)")


def rows() -> list[SchemaRow]:
    return [row for _, _, found in schema_sections() for row in found]


def described(output: str) -> dict[str, str]:
    """Each key (and section) line of the printed table: its description, the last column."""
    table: dict[str, str] = {}
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 2:
            table[cells[0]] = cells[-1]
    return table


def pieces(text: str) -> list[Piece]:
    """A description as the page-language checks read it: text in backticks is code."""
    return [Piece(part, part.startswith("`")) for part in CODE.split(text) if part]


def test_every_config_description_is_marked_for_the_catalog() -> None:
    plain = []
    for path in sorted(CONFIG.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for keyword in node.keywords if isinstance(node, ast.Call) else []:
                value = keyword.value
                marked = isinstance(value, ast.Call) and getattr(value.func, "id", "") == "N_"
                # `section(description=N_(…))` hands its marked argument on to `Field`
                forwarded = isinstance(value, ast.Name) and value.id == "description"
                if keyword.arg == "description" and not (marked or forwarded):
                    plain.append(f"{path.name}:{value.lineno}")
    assert not plain, f'write description=N_("…") (then extract and translate): {plain}'


async def test_schema_speaks_chinese_under_a_chinese_locale(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, "config", "--schema", env={"LANG": "zh_CN.UTF-8"})

    assert run.code == 0, run.output
    table = described(run.stdout)
    left = []
    for row in rows():
        text = table.get(row.path, "")
        # (not catalog_english: "App Secret." is a msgid, and its Chinese names the same field)
        if text == row.description or not HAN.search(text) or english_sentences(pieces(text)):
            left.append(f"{row.path}: {text}")
    assert not left, "\n".join(left)
    for section in Config.model_fields:
        assert HAN.search(table.get(section, "")), section
    assert table["配置项"] == "说明"
    idle, key = run.stdout.split("session.idle_reset")[1], run.stdout.split(".api_key")[1]
    assert "时长" in idle.splitlines()[0] and "机密" in key.splitlines()[0]
    # a default reply is what the gateway says: in the reader's language too
    assert "发送太频繁了" in run.stdout.split("policy.rate_limit.message")[1].splitlines()[0]


async def test_schema_speaks_english_under_an_english_locale(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, "config", "--schema", env={"LANG": "en_US.UTF-8"})

    assert run.code == 0, run.output
    table = described(run.stdout)
    changed = [row.path for row in rows() if table.get(row.path) != row.description]
    assert not changed, changed
    assert table["key"] == "description" and table["server"] == "Where the gateway listens."
    idle, key = run.stdout.split("session.idle_reset")[1], run.stdout.split(".api_key")[1]
    assert "duration" in idle.splitlines()[0] and "secret" in key.splitlines()[0]
    assert "You're sending" in run.stdout.split("policy.rate_limit.message")[1].splitlines()[0]


def test_the_models_keep_their_english() -> None:
    """The marker is the identity: pydantic gets the plain English, so a JSON schema (or any
    other reader of the models) is unchanged by the translation."""
    schema = json.dumps(Config.model_json_schema(), ensure_ascii=False)
    assert "Where the gateway listens." in schema
    english = [row.description for row in rows()]
    chinese = [template("zh-CN", text) for text in english if template("zh-CN", text) != text]
    assert len(chinese) > 200 and not [text for text in chinese if text in schema]


async def test_ui_language_of_the_config_wins_even_in_a_file_that_does_not_load(
    tmp_path: Path,
) -> None:
    """As every command: `ui.language` over the terminal; and the schema, the list a broken
    file is fixed with, still prints (in the language the broken file asks for)."""
    (tmp_path / "config.yaml").write_text("ui: {language: en}\n", encoding="utf-8")
    english = await ai_bot(tmp_path, "config", "--schema", env={"LANG": "zh_CN.UTF-8"})
    assert english.code == 0 and "Where the gateway listens." in english.stdout, english.output

    (tmp_path / "config.yaml").write_text("ui: {language: zh-CN}\nsessoin: {}\n", "utf-8")
    chinese = await ai_bot(tmp_path, "config", "--schema", env={"LANG": "en_US.UTF-8"})
    assert chinese.code == 0 and "网关监听的地址和端口。" in chinese.stdout, chinese.output
