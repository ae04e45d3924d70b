"""`channels/identity.py`: every id a caller chooses is named within its key, injectively."""

from __future__ import annotations

from aibot.channels.identity import OPEN_PAGE, api_caller, keyed_message_id, page_caller


def test_names_never_collide_across_keys_even_when_a_principal_holds_colons() -> None:
    a = api_caller("api", "idp:corp:a", "b:c", "s")
    b = api_caller("api", "idp:corp:a:b", "c", "s")
    assert a.user_id != b.user_id
    assert a.session_key != b.session_key
    one, two = api_caller("api", "key-1", None, "s"), api_caller("api", "key-2", None, "s")
    assert one.session_key != two.session_key and one.user_id != two.user_id
    assert api_caller("openai", "key-1", "telegram:4242", "x").user_id == "api:key-1:telegram:4242"
    stateless = {api_caller("openai", "key-1", None, None).session_key for _ in range(3)}
    assert len(stateless) == 3


def test_the_page_is_known_by_key_and_address_and_keeps_open_page_names() -> None:
    assert page_caller(OPEN_PAGE, "127.0.0.1", "abcdefgh").session_key == "web:abcdefgh"
    keyed = page_caller("key-1", "10.0.0.9", "abcdefgh")
    assert keyed.session_key == "web:key-1:abcdefgh" and keyed.user_id == "web:key-1:10.0.0.9"


def test_message_ids_stay_within_the_inbox_column() -> None:
    assert keyed_message_id("key-1", "m-1") == "key-1:m-1"
    long = keyed_message_id("key-1", "x" * 255)
    assert len(long) <= 255 and long != keyed_message_id("key-2", "x" * 255)
