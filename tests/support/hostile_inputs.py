"""Hostile inputs as Hypothesis strategies: bodies, headers, queries and cookies an attacker (or
a broken proxy) might send. Keys and names are drawn partly from the platforms' own vocabulary,
so that random documents get past the first `isinstance` checks and reach deeper code."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.support.fuzz_rig import encode_query
from tests.support.gateway import API_KEY

# Field names the gateway's readers look for, across all platforms and APIs.
VOCABULARY = [
    "update_id",
    "message",
    "message_id",
    "chat",
    "id",
    "type",
    "from",
    "text",
    "entities",
    "offset",
    "length",
    "is_bot",
    "callback_query",
    "my_chat_member",
    "new_chat_members",
    "message_thread_id",
    "is_topic_message",
    "reply_to_message",
    "data",
    "schema",
    "header",
    "event",
    "event_id",
    "event_type",
    "token",
    "encrypt",
    "challenge",
    "sender",
    "sender_id",
    "open_id",
    "chat_id",
    "chat_type",
    "message_type",
    "content",
    "mentions",
    "key",
    "name",
    "action",
    "value",
    "operator",
    "uuid",
    "msgId",
    "msgtype",
    "conversationId",
    "conversationType",
    "senderStaffId",
    "senderId",
    "sessionWebhook",
    "sessionWebhookExpiredTime",
    "isInAtList",
    "atUsers",
    "robotCode",
    "session_id",
    "user_id",
    "stream",
    "metadata",
    "messages",
    "role",
    "model",
    "user",
    "max_tokens",
    "temperature",
    "stream_options",
    "include_usage",
]
INVALID_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf0\x28\x8c\xbc",
    b"\xc0\xaf",
    b"\x80",
    b"\xf8\x88\x80\x80\x80",
]
XML_TAGS = [
    "xml",
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "AgentID",
    "Encrypt",
    "Event",
    "EventKey",
    "ChangeType",
    "UserID",
]
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    )
    + b"]><xml><Encrypt>&lol9;</Encrypt></xml>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM '
    b'"file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>'
)
# Credentials that are almost right: near misses must be refused like strangers.
NEAR_MISS_KEYS = [
    API_KEY[:-1],
    API_KEY + "x",
    API_KEY.upper(),
    "x" + API_KEY,
    API_KEY.replace("-", "_"),
    "",
]
AUTH_HEADERS = [
    "Authorization",
    "X-Api-Key",
    "X-Telegram-Bot-Api-Secret-Token",
    "X-Lark-Signature",
    "X-Lark-Request-Timestamp",
    "X-Lark-Request-Nonce",
    "timestamp",
    "sign",
    "X-Session-Id",
    "X-CSRF-Token",
    "X-Forwarded-For",
    "Origin",
    "Content-Type",
]
CONTENT_TYPES = [
    "application/json",
    "text/xml",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/json; charset=gbk",
    "garbage/\xe9",
]
QUERY_NAMES = [
    "msg_signature",
    "timestamp",
    "nonce",
    "echostr",
    "q",
    "id",
    "session",
    "format",
    "limit",
]

keys = st.sampled_from(VOCABULARY) | st.text(max_size=12)
# Integers past 64 bits, NaN, infinities and lone surrogates too: a JSON parser on the other
# side may accept them although our JSON writer (orjson) cannot write them back.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(2**63 - 2, 2**65)
    | st.floats()
    | st.text(max_size=60)
    | st.sampled_from(VOCABULARY)
    | st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=6),
    max_leaves=30,
)
json_objects = st.dictionaries(keys, json_values, max_size=8)


def dumps(value: Any) -> bytes:
    """JSON as a lenient writer produces it: NaN, Infinity and huge integers included."""
    return json.dumps(value).encode()


def header_text(max_size: int = 80) -> st.SearchStrategy[str]:
    """What aiohttp will put on the wire as a header value: printable Latin-1 (it refuses
    control characters, so CR/LF injection is not something a client can send through it)."""
    return st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=["Cc"]),
        max_size=max_size,
    )


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth if depth % 2 else b"[" * depth + b"]" * depth


def with_invalid_utf8(draw: st.DrawFn) -> bytes:
    bad = draw(st.sampled_from(INVALID_UTF8))
    inside = draw(st.sampled_from(VOCABULARY))
    return draw(
        st.sampled_from(
            [
                b'{"' + inside.encode() + b'": "' + bad + b'"}',
                b'{"' + bad + b'": 1}',
                b"<xml><Content>" + bad + b"</Content></xml>",
                b"name=" + bad + b"&password=" + bad,
                bad + draw(st.binary(max_size=40)),
            ]
        )
    )


@st.composite
def xml_documents(draw: st.DrawFn) -> bytes:
    children = draw(
        st.lists(
            st.tuples(st.sampled_from(XML_TAGS), st.text(max_size=40) | st.integers().map(str)),
            max_size=8,
        )
    )
    inner = "".join(
        f"<{tag}><![CDATA[{value.replace(']]>', '')}]]></{tag}>" for tag, value in children
    )
    return f"<xml>{inner}</xml>".encode()


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Any hostile body: bytes, JSON of any shape, deep nesting, bad UTF-8, XML (bombs too),
    forms. Sizes stay small; the huge ones are separate, targeted tests."""
    kind = draw(st.sampled_from(["empty", "bytes", "json", "deep", "utf8", "xml", "bomb", "form"]))
    if kind == "empty":
        return b""
    if kind == "bytes":
        return draw(st.binary(max_size=2048))
    if kind == "json":
        return dumps(draw(json_values))
    if kind == "deep":
        return nested(draw(st.integers(1, 5000)))
    if kind == "utf8":
        return with_invalid_utf8(draw)
    if kind == "xml":
        return draw(xml_documents())
    if kind == "bomb":
        return draw(st.sampled_from([BILLION_LAUGHS, EXTERNAL_ENTITY]))
    fields = draw(
        st.dictionaries(
            st.sampled_from(
                ["name", "password", "code", "csrf", "model", "scope", "days", "label"]
            ),
            st.text(max_size=30),
            max_size=5,
        )
    )
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()


def header_values(name: str) -> st.SearchStrategy[str]:
    if name == "Authorization":
        return st.sampled_from(["Bearer ", "Basic ", "Token ", "bearer "]).flatmap(
            lambda scheme: (st.sampled_from(NEAR_MISS_KEYS) | header_text(60)).map(
                lambda key: scheme + key
            )
        )
    if name == "X-Api-Key":
        return st.sampled_from(NEAR_MISS_KEYS) | header_text(60)
    if name == "Content-Type":
        return st.sampled_from(CONTENT_TYPES)
    if name == "timestamp":
        return st.integers(-(2**70), 2**70).map(str) | header_text(20)
    return header_text()


@st.composite
def hostile_headers(draw: st.DrawFn) -> dict[str, str]:
    names = draw(st.lists(st.sampled_from(AUTH_HEADERS), unique=True, max_size=5))
    return {name: draw(header_values(name)) for name in names}


@st.composite
def queries(draw: st.DrawFn) -> str:
    params = draw(
        st.dictionaries(
            st.sampled_from(QUERY_NAMES) | st.text(max_size=8),
            st.text(max_size=80) | st.integers().map(str),
            max_size=4,
        )
    )
    return encode_query(params)


cookies = st.dictionaries(
    st.sampled_from(["aibot_admin", "aibot_admin_login"]),
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=';,"\\'),
        max_size=60,
    ),
    max_size=2,
)
