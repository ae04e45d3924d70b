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
        ("卡号6222021234567890128", "卡号[bank-card]"),
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


# A WeCom MsgId (a 64-bit integer, 19 digits) that passes the Luhn check as a card would; the
# example PROTOCOLS.md quotes does not.
LUHN_MSGID = "4641603982383516983"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("卡号6217000010012345677", "卡号[bank-card]"),
        ("信用卡 5555555555554444 到期", "信用卡 [bank-card] 到期"),
        ("amex 378282246310005.", "amex [bank-card]."),
        ("card 6222 0200 1234 5678 903 ok", "card [bank-card] ok"),
        ("card 4111 1111 1111 1111 123", "card [bank-card] 123"),  # the card, then its CVV
        ("msgid: 4111 1111 1111 1111", "msgid: [bank-card]"),  # no id is written grouped
        (f"转到 {LUHN_MSGID}", "转到 [bank-card]"),  # no label says it is an id
    ],
)
def test_luhn_valid_card_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "<MsgId>4561255354251345929</MsgId><AgentID>218</AgentID>",
        "duplicate 7300000000000000001 dropped",  # not Luhn-valid: no card
        "card 6222021234567890123",  # one digit off a card: the check fails
        f"<xml><MsgId>{LUHN_MSGID}</MsgId></xml>",
        f'{{"msgid":"{LUHN_MSGID}","aibotid":"AIBOTID"}}',
        f'{{"msgId": "{LUHN_MSGID}"}}',
        f"message_id={LUHN_MSGID} inbox_id: {LUHN_MSGID}",
        f"AgentID={LUHN_MSGID}",
    ],
)
def test_platform_ids_are_not_card_numbers(text: str) -> None:
    assert mask_pii(text) == text


def test_a_field_named_as_an_id_labels_its_value() -> None:
    """A log line's `message_id=` is its field's name, not part of the text."""
    assert mask_pii(LUHN_MSGID, field="message_id") == LUHN_MSGID
    assert mask_pii(LUHN_MSGID, field="msgid") == LUHN_MSGID
    assert mask_pii(LUHN_MSGID, field="note") == "[bank-card]"
    assert mask_pii(LUHN_MSGID) == "[bank-card]"
