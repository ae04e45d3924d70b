"""Message bodies: ``content`` checked per ``msg_type``, message data, Feishu's answer envelope."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from tests.fakes.feishu_api.protocol import (
    BAD_PARAM,
    CARD_FAILED,
    CARD_TAGS,
    FIELD_INVALID,
    JSON,
    POST_TAGS,
)
from tests.fakes.feishu_api.records import Message, Rejection


def _content(kind: str, body: JSON) -> JSON:
    """The parsed `content` if it is valid for `kind`, else the platform's error."""
    raw = body.get("content")
    if not isinstance(raw, str):
        raise Rejection(400, *BAD_PARAM)
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Rejection(400, *BAD_PARAM) from None
    if not isinstance(content, dict):
        raise Rejection(400, *BAD_PARAM)
    if kind == "text":
        if not isinstance(content.get("text"), str) or not content["text"].strip():
            raise Rejection(400, *BAD_PARAM)
    elif kind == "post":
        _check_post(content)
    elif kind == "interactive":
        _check_card(content)
    else:
        raise Rejection(400, *BAD_PARAM)
    return content


def _check_post(content: JSON) -> None:
    locales = [v for v in content.values() if isinstance(v, dict)]
    if not locales or len(locales) != len(content):
        raise Rejection(400, *BAD_PARAM)
    for post in locales:
        paragraphs = post.get("content")
        if not isinstance(paragraphs, list) or not all(isinstance(p, list) for p in paragraphs):
            raise Rejection(400, *BAD_PARAM)
        for element in (e for p in paragraphs for e in p):
            if not isinstance(element, dict) or element.get("tag") not in POST_TAGS:
                raise Rejection(400, *BAD_PARAM)


def _check_card(content: JSON) -> None:
    elements = (
        (content.get("body") or {}).get("elements")
        if content.get("schema") == "2.0"
        else content.get("elements")
    )
    if not isinstance(elements, list) or not elements:
        raise Rejection(400, *CARD_FAILED)
    for element in elements:
        if not isinstance(element, dict) or element.get("tag") not in CARD_TAGS:
            raise Rejection(400, *CARD_FAILED)
        if element["tag"] == "markdown" and not isinstance(element.get("content"), str):
            raise Rejection(400, *CARD_FAILED)


def _message_data(message: Message) -> JSON:
    now = str(int(time.time() * 1000))
    return {
        "message_id": message.message_id,
        "root_id": message.parent_id or "",
        "parent_id": message.parent_id or "",
        "msg_type": message.msg_type,
        "create_time": now,
        "update_time": now,
        "deleted": False,
        "updated": False,
        "chat_id": message.chat_id,
        "sender": {
            "id": "cli_test",
            "id_type": "app_id",
            "sender_type": "app",
            "tenant_key": "tk_test",
        },
        "body": {"content": orjson.dumps(message.content).decode()},
    }


def _parse(raw: bytes) -> JSON:
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Rejection(400, *FIELD_INVALID) from None
    if not isinstance(body, dict):
        raise Rejection(400, *FIELD_INVALID)
    return body


async def _json_body(request: web.Request) -> JSON:
    try:
        return _parse(await request.read())
    except Rejection:
        return {}


def _answer(
    status: int, code: int, msg: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status, headers=headers)
