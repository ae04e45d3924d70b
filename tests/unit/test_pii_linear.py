"""PII masking takes time linear in its input and finds what the old regular expression found.

Masking runs on text users wrote (the console, exports, eval sets, log lines): a pattern that
backtracks lets one long message pin the CPU. These tests feed it text built to make
backtracking patterns slow and check that time grows with the length, not its square.
"""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from aibot.ops.pii import MAX_MASKED_CHARS, mask_pii

# The e-mail pattern the scanner replaces, as the oracle for what it must find.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# Each unit repeated makes some backtracking pattern quadratic (or worse).
ADVERSARIAL_UNITS = (
    "a",  # a letter run without @: every start scans to the end
    "a.",
    "1.",
    "a@",
    "a@1.",
    "@a.",
    ".a",
    "-a",
    "1",
    "1 ",
    "1-",
    "+1 ",
    "13",
    "a@b.c",
    "%+",
)


def _cpu_seconds(text: str) -> float:
    started = time.process_time()
    mask_pii(text)
    return time.process_time() - started


def _adversarial(unit: str, size: int) -> str:
    return "x@" + (unit * (size // len(unit) + 1))[:size]


def test_masking_time_grows_linearly_with_the_input() -> None:
    for unit in ADVERSARIAL_UNITS:
        small = min(_cpu_seconds(_adversarial(unit, 25_000)) for _ in range(3))
        large = min(_cpu_seconds(_adversarial(unit, 100_000)) for _ in range(3))
        # Four times the text: linear is ~4x; quadratic would be ~16x.
        assert large < 8 * small + 0.05, (unit, small, large)


def test_a_megabyte_of_adversarial_text_is_masked_in_under_a_second() -> None:
    for unit in ADVERSARIAL_UNITS:
        assert _cpu_seconds(_adversarial(unit, 1_000_000)) < 1.0, unit


def test_text_over_the_bound_is_cut_without_leaving_half_a_datum() -> None:
    text = "x" * (MAX_MASKED_CHARS - 5) + " 13812345678 and more"
    masked = mask_pii(text)
    assert len(masked) < MAX_MASKED_CHARS + 40
    assert masked.endswith("characters cut]")
    assert "13812" not in masked and "[phone]" not in masked


_ALPHABET = st.sampled_from([*"ab1Z9@.-_%+ X", "中", "。", "\n"])


def _oracle(text: str) -> str:
    """The masking as it was, with the backtracking e-mail pattern (fine on short text)."""
    from aibot.ops import pii

    text = _EMAIL.sub("[email]", text)
    for kind, pattern in pii._PATTERNS:
        text = pattern.sub(f"[{kind}]", text)
    return text


@settings(max_examples=600, deadline=None)
@given(st.lists(_ALPHABET, max_size=60).map("".join))
def test_scanner_masks_exactly_what_the_regular_expression_did(text: str) -> None:
    assert mask_pii(text) == _oracle(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["a", "b.c", "@", "x@y.com", "@ex-ample.org", ".cn", "1", " ", "13812345678", "中"]
        ),
        max_size=12,
    ).map("".join)
)
def test_scanner_matches_on_address_shaped_text(text: str) -> None:
    assert mask_pii(text) == _oracle(text)
