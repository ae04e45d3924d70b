"""Feishu's words: token lifetimes, size limits, message and card tags, error codes."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

TOKEN_LIFETIME = 7200
REISSUE_BELOW = 1800
UUID_TTL = 3600
TEXT_LIMIT = 150 * 1024
RICH_LIMIT = 30 * 1024
MAX_EDITS = 20
POST_TAGS = {"text", "a", "at", "img", "media", "emotion", "hr", "code_block", "md"}
CARD_TAGS = {
    "markdown",
    "div",
    "hr",
    "img",
    "note",
    "column_set",
    "action",
    "button",
    "plain_text",
    "lark_md",
}
RECEIVE_ID_TYPES = {"open_id", "union_id", "user_id", "email", "chat_id"}

BAD_PARAM = (230001, "Your request contains an invalid request parameter.")
CARD_FAILED = (230099, "Failed to create card content.")
TOO_LONG = (230025, "The length of the message content reaches its limit.")
WITHDRAWN = (230011, "The message was withdrawn.")
NOT_FOUND = (231003, "The message is not found, maybe not exist or deleted.")
EDIT_LIMIT = (230072, "The message has reached the number of times it can be edited.")  # [?]
FREQUENCY = (99991400, "request trigger frequency limit")
NO_TOKEN = (
    99991661,
    "Missing access token for authorization. Please make a request with token attached.",
)
BAD_TOKEN = (
    99991663,
    "Invalid access token for authorization. Please make a request with token attached.",
)
FIELD_INVALID = (99992402, "field validation failed")
BAD_APP_ID = (10003, "invalid param")  # [?]
BAD_SECRET = (10014, "app secret invalid")  # [?]
