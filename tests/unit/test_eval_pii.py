"""PII masking for text that leaves the store (eval sets from history, exports)."""

from __future__ import annotations

import pytest

from aibot.ops.pii import mask_pii


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call me at 13812345678", "call me at [phone]"),
        ("我的手机是13812345678，谢谢", "我的手机是[phone]，谢谢"),
        ("+86 138 1234 5678 or 0086-13812345678", "[phone] or [phone]"),
        ("office 010-62345678", "office [phone]"),
        ("US +1 415 555 2671", "US [phone]"),
        ("mail Zhang.San+eval@example.com.cn now", "mail [email] now"),
        ("身份证110101199003071234号", "身份证[id-card]号"),
        ("ID 11010119900307123X.", "ID [id-card]."),
        ("卡号6222021234567890123", "卡号[bank-card]"),
        ("card 4111 1111 1111 1111 expires", "card [bank-card] expires"),
        ("card 4111-1111-1111-1111", "card [bank-card]"),
    ],
)
def test_personal_data_is_masked_by_kind(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 42, or 1998 in the year column.",
        "order #20241122 shipped",  # 8 digits: neither card, ID nor phone
        "version 3.11.4 on port 18789",
        "sk-abc 是一个变量名",
    ],
)
def test_ordinary_numbers_and_text_are_left_alone(text: str) -> None:
    assert mask_pii(text) == text
