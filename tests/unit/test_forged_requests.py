"""The fuzz tests' own credential mutator (tests/support/forged_requests.py): a mutation must
change a credential in a way the gateway has to refuse."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.support.forged_requests import mutate_text
from tests.support.hostile_inputs import header_text


@given(value=st.text(min_size=1, max_size=20), index=st.integers(0, 40), junk=header_text(3))
def test_a_mutated_credential_differs_beyond_case(value: str, index: int, junk: str) -> None:
    """CI once failed on `a`→`A` in a WeCom signature, which the gateway rightly accepts."""
    assert mutate_text(value, index, junk).casefold() != value.casefold()
