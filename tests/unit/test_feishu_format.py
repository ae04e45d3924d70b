"""Markdown answers as Feishu content, split under the request-size limits."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from aibot.channels.feishu.format import BODY_LIMIT, content, split


def body_size(kind: str, text: str) -> int:
    msg_type = {"post": "post", "card": "interactive", "text": "text"}[kind]
    return len(
        orjson.dumps(
            {
                "msg_type": msg_type,
                "content": content(kind, text),
                "uuid": "x" * 32,
                "reply_in_thread": False,
            }
        )
    )


def test_post_and_card_carry_the_markdown() -> None:
    post = orjson.loads(content("post", "# Title\n\n**b** `c`\n```\n# not a heading\n```"))
    assert post["zh_cn"]["content"] == [
        [{"tag": "md", "text": "**Title**\n\n**b** `c`\n```\n# not a heading\n```"}]
    ]
    card = orjson.loads(content("card", "# Title"))
    assert card["body"]["elements"] == [{"tag": "markdown", "content": "# Title"}]
    assert card["config"]["update_multi"] is True
    assert orjson.loads(content("text", "plain")) == {"text": "plain"}


def test_short_answers_are_one_part() -> None:
    assert split("hello\n\nworld") == ["hello\n\nworld"]
    assert split("   \n ") == []


def test_code_blocks_cut_in_two_are_closed_and_reopened() -> None:
    code = "intro\n\n```python\n" + "\n".join(f'x = "{i}"' for i in range(5000)) + "\n```\nend"
    parts = split(code)
    assert len(parts) > 1
    for part in parts:
        assert part.count("```") % 2 == 0
        assert body_size("card", part) <= BODY_LIMIT
    assert all(p.startswith("```python") for p in parts[1:])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.text(min_size=1, max_size=3000) | st.sampled_from(["", "```", '"\\\x01']),
        min_size=1,
        max_size=40,
    )
)
def test_every_part_fits_and_nothing_is_lost(lines: list[str]) -> None:
    text = "\n".join(lines * 3)
    parts = split(text)
    for part in parts:
        for kind in ("post", "card", "text"):
            assert body_size(kind, part) <= BODY_LIMIT
    if "```" not in text:
        assert "".join(parts).replace("\n", "") == text.strip().replace("\n", "")
