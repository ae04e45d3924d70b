"""Hidden reasoning never leaks into the answer, however the stream is chunked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aibot.providers.reasoning import ThinkTagSplitter, split_think_tags

TEXT = "<think>Let me think: 2+2.</think>\n\nThe answer is **4**. <b>ok</b>"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_split_across_any_chunking(size: int) -> None:
    splitter = ThinkTagSplitter()
    answer, reasoning = "", ""
    for start in range(0, len(TEXT), size):
        a, r = splitter.feed(TEXT[start : start + size])
        answer += a
        reasoning += r
    a, r = splitter.flush()
    answer += a
    reasoning += r
    assert answer == "The answer is **4**. <b>ok</b>"
    assert reasoning == "Let me think: 2+2."


def test_no_tags_is_untouched() -> None:
    assert split_think_tags("plain < text > here") == ("plain < text > here", "")


def test_unclosed_think_stays_hidden() -> None:
    answer, reasoning = split_think_tags("<think>still thinking")
    assert answer == ""
    assert reasoning == "still thinking"


def test_partial_tag_at_end_is_flushed_as_text() -> None:
    assert split_think_tags("a < b and c <thi") == ("a < b and c <thi", "")


@given(st.text(alphabet="<>/thinkab \n", max_size=40))
def test_the_whole_text_form_answers_as_the_splitter_does(text: str) -> None:
    splitter = ThinkTagSplitter()
    answer, reasoning = splitter.feed(text)
    tail_answer, tail_reasoning = splitter.flush()
    assert split_think_tags(text) == (answer + tail_answer, reasoning + tail_reasoning)
