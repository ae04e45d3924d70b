"""Chinese text in the CLI's tables breaks where Chinese allows (cli/wrapping.py): rich broke
it only at spaces, so `ai-bot config --schema` in Chinese on a narrow terminal left a word
alone on a line, cut Latin words in half and started lines with "。"."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from aibot.cli.config_view import schema_sections
from aibot.cli.wrapping import CjkText
from aibot.i18n import template
from tests.support.cli import ai_bot

CLOSING = "，。、；：？！）》」』】"
LEAD = re.compile(rf"^[\u4e00-\u9fff][{CLOSING}”’]*")
LATIN = re.compile(r"[!-~]+")  # a run of ASCII without spaces: never cut when it fits


def lines(text: Text, width: int) -> list[str]:
    console = Console(width=width)
    rendered = console.render_lines(text, console.options.update_width(width), pad=False)
    return ["".join(segment.text for segment in line) for line in rendered]


def test_a_chinese_sentence_breaks_between_characters_and_keeps_latin_words_whole() -> None:
    sentence = (
        "在 /docs 提供 API 参考文档（Swagger UI 随软件包提供，不走 CDN）；"
        "无论是否开启，/openapi.json 都会提供。"
    )
    assert lines(CjkText(sentence), 16) == [
        "在 /docs 提供 ",
        "API 参考文档",
        "（Swagger UI 随",
        "软件包提供，不走",
        "CDN）；无论是否",
        "开启，",
        "/openapi.json 都",
        "会提供。",
    ]


def test_text_without_wide_characters_breaks_as_rich_breaks_it() -> None:
    english = (
        "Hosts the gateway answers (the Host header); loopback names, the public_url host "
        "and server.host are always allowed; *.example.com matches subdomains; averyverylongword"
    )
    for width in (8, 13, 21, 40):
        assert lines(CjkText(english), width) == lines(Text(english), width), width


def description_cells(output: str) -> list[list[str]]:
    """The description column of the printed table, each row's lines."""
    header, *body = output.splitlines()
    offset = cell_len(header[: header.index("说明")])
    rows: list[list[str]] = []
    for line in body:
        cells, column = 0, len(line)
        for index, char in enumerate(line):
            if cells >= offset:
                column = index
                break
            cells += cell_len(char)
        if line[:column].strip():
            rows.append([])
        if rows:
            rows[-1].append(line[column:].rstrip())
    return rows


async def test_the_schema_in_chinese_fills_each_line_of_a_narrow_terminal(tmp_path: Path) -> None:
    env = {"LANG": "zh_CN.UTF-8", "COLUMNS": "72"}
    run = await ai_bot(tmp_path, "config", "--schema", env=env)
    assert run.code == 0, run.output
    header = run.stdout.splitlines()[0]
    width = cell_len(header) - cell_len(header[: header.index("说明")])
    said = " ".join(
        template("zh-CN", row.description) for _, _, found in schema_sections() for row in found
    )
    problems = []
    for row in description_cells(run.stdout):
        for before, after in itertools.pairwise(row):
            full = cell_len(before) >= width - 1  # else broken where a break was allowed
            lead = LEAD.match(after)
            if lead and cell_len(before) + 1 + cell_len(lead.group()) <= width:
                problems.append(f"room left for {lead.group()}: {before}|{after}")
            if after[:1] in CLOSING and not full:
                problems.append(f"a line starts with closing punctuation: {before}|{after}")
            tail, head = LATIN.search(before[::-1]), LATIN.match(after)
            if head and tail and tail.start() == 0:
                start, end = tail.group()[::-1], head.group()
                spaced = f"{start} {end}" in said  # broken at a space
                if not spaced and len(start + end) <= width:
                    problems.append(f"a word cut in half: {before}|{after}")
    assert not problems, "\n".join(problems)
