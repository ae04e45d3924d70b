"""Requests a channel would accept, with their credentials broken on purpose (issue 9)."""

from __future__ import annotations

import time

import orjson

from tests.fakes.wecom_api import FakeWecom
from tests.support.fuzz_rig import (
    Rig,
    encode_query,
)
from tests.support.gateway import API_KEY
from tests.support.hostile_inputs import (
    NEAR_MISS_KEYS,
)
from tests.support.platforms import FEISHU_TOKEN, TELEGRAM_SECRET

IMPOSTOR = FakeWecom(token="NotTheToken")  # signs and encrypts only; never served


def mutate_text(value: str, index: int, replacement: str) -> str:
    """`value` with one character replaced, or cut short if it is empty.

    Never by itself or by its other case: hex signatures are compared case-insensitively
    (an upper-case digest is the same digest), so `a`→`A` is not a forgery."""
    if not value:
        return replacement or "x"
    index %= len(value)
    new = replacement[:1] or "x"
    if new.casefold() == value[index].casefold():
        new = "y" if value[index].casefold() != "y" else "z"
    return value[:index] + new + value[index + 1 :]


SIGNED = [
    "telegram",
    "feishu",
    "wecom_post",
    "wecom_get",
    "dingtalk",
    "messages",
    "chat",
    "completions",
    "models",
]
MUTATIONS = ["drop", "flip", "stranger", "stale", "future", "body", "nonce", "other_secret"]


def forged(
    rig: Rig, channel: str, mutation: str, index: int, junk: str, skew: int
) -> tuple[str, str, dict[str, object]]:
    """The request `channel` would accept, with its credentials broken by `mutation`.

    `skew` (seconds, over an hour) moves a timestamp outside every platform's window: a
    replayed request, re-signed correctly, is still refused."""
    now = time.time()
    if channel == "telegram":
        secret = {
            "drop": None,
            "stranger": junk or "x",
            "other_secret": TELEGRAM_SECRET + "x",
            "stale": TELEGRAM_SECRET[:-1],
            "future": TELEGRAM_SECRET.upper(),
        }.get(mutation, mutate_text(TELEGRAM_SECRET, index, junk))
        headers = rig.telegram_headers(secret or "")
        if secret is None:
            del headers["X-Telegram-Bot-Api-Secret-Token"]
        return "POST", "/telegram/webhook", {"body": rig.telegram_update(), "headers": headers}
    if channel == "feishu":
        return "POST", "/feishu/webhook", forged_feishu(rig, mutation, index, junk, now, skew)
    if channel in ("wecom_post", "wecom_get"):
        return forged_wecom(rig, channel == "wecom_get", mutation, index, junk, now, skew)
    if channel == "dingtalk":
        stamp = {"stale": now - skew, "future": now + skew}.get(mutation, now)
        headers = rig.dingtalk_headers(
            int(stamp * 1000),
            secret="not-the-secret" if mutation == "other_secret" else rig.dingtalk.client_secret,
        )
        if mutation == "drop":
            del headers["sign"]
        elif mutation in ("flip", "body", "nonce"):
            headers["sign"] = mutate_text(headers["sign"], index, junk)
        elif mutation == "stranger":
            headers["timestamp"] = junk or "x"
        return "POST", "/dingtalk/webhook", {"body": rig.dingtalk_message(), "headers": headers}
    key = {"drop": None, "stranger": junk, "other_secret": NEAR_MISS_KEYS[index % 5]}.get(
        mutation, mutate_text(API_KEY, index, junk)
    )
    if key is not None and key.strip() == API_KEY:
        key += "x"
    headers = rig.bearer(key or "") if key is not None else {"Content-Type": "application/json"}
    if mutation == "nonce" and key is not None:
        headers = {"Content-Type": "application/json", "Authorization": f"Basic {API_KEY}"}
    body = {
        "messages": orjson.dumps(
            {"message_id": f"m{rig.next_id()}", "session_id": "s1", "message": "hello"}
        ),
        "chat": orjson.dumps({"session_id": "s1", "message": "hello"}),
        "completions": orjson.dumps({"messages": [{"role": "user", "content": "hello"}]}),
        "models": b"",
    }[channel]
    paths = {
        "messages": "/api/v1/messages",
        "chat": "/api/v1/chat",
        "completions": "/v1/chat/completions",
        "models": "/v1/models",
    }
    return (
        ("GET" if channel == "models" else "POST"),
        paths[channel],
        {"body": body, "headers": headers},
    )


def forged_feishu(
    rig: Rig, mutation: str, index: int, junk: str, now: float, skew: float
) -> dict[str, object]:
    event = rig.feishu_event()
    if mutation == "other_secret":  # right key, right signature, wrong Verification Token
        event["header"]["token"] = mutate_text(FEISHU_TOKEN, index, junk)
    stamp = {"stale": now - skew, "future": now + skew}.get(mutation, now)
    body, headers = rig.feishu_request(orjson.dumps(event), timestamp=stamp)
    if mutation == "drop":
        del headers["X-Lark-Signature"]
    elif mutation == "flip":
        headers["X-Lark-Signature"] = mutate_text(headers["X-Lark-Signature"], index, junk)
    elif mutation == "stranger":
        body = orjson.dumps(event)  # plaintext, although an Encrypt Key is configured
    elif mutation == "body":
        body = body[: index % len(body)] + b" " + body[index % len(body) :]
    elif mutation == "nonce":
        headers["X-Lark-Request-Nonce"] = mutate_text(headers["X-Lark-Request-Nonce"], index, junk)
    return {"body": body, "headers": headers}


def forged_wecom(
    rig: Rig, echo: bool, mutation: str, index: int, junk: str, now: float, skew: float
) -> tuple[str, str, dict[str, object]]:
    signer = IMPOSTOR if mutation == "other_secret" else rig.wecom
    encrypted = signer.encrypt("1234567890" if echo else rig.wecom_message())
    stamp = {"stale": now - skew, "future": now + skew}.get(mutation, now)
    params = signer.signed_query(encrypted, timestamp=str(int(stamp)))
    if mutation == "drop":
        del params[("msg_signature", "timestamp", "nonce")[index % 3]]
    elif mutation == "flip":
        params["msg_signature"] = mutate_text(params["msg_signature"], index, junk)
    elif mutation == "nonce":
        params["nonce"] = mutate_text(params["nonce"], index, junk)
    elif mutation == "stranger":
        params["timestamp"] = mutate_text(params["timestamp"], index, junk)
    elif mutation == "body":
        encrypted = mutate_text(encrypted, index, junk)
    if echo:
        return "GET", "/wecom/webhook", {"query": encode_query({**params, "echostr": encrypted})}
    return (
        "POST",
        "/wecom/webhook",
        {"query": encode_query(params), "body": rig.wecom.envelope(encrypted)},
    )
