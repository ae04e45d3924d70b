"""Telegram's words: the Bot API's error texts, chat actions, update types and formats.

The texts are the real server's, byte for byte, so the gateway's error handling is tested
against what it will meet; ``# [?]`` marks a text not yet seen from the real server.
"""

from __future__ import annotations

import http
import re
from typing import Any

JSON = dict[str, Any]


UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
CONFLICT_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
TOO_LONG = "Bad Request: message is too long"
TEXT_EMPTY = "Bad Request: message text is empty"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
CHAT_NOT_FOUND = "Bad Request: chat not found"
CANT_PARSE = "Bad Request: can't parse entities: "
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
CANT_EDIT = "Bad Request: message can't be edited"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
BLOCKED = "Forbidden: bot was blocked by the user"
MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
SECRET_BAD_CHARS = "Bad Request: secret token contains unallowed characters"
WEBHOOK_NEEDS_HTTPS = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
WEBHOOK_BAD_PORT = (
    "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
)
# Not seen verbatim from Telegram; marked so nobody matches on them as if they were.
SECRET_TOO_LONG = "Bad Request: secret token is too long"  # [?]
BAD_MAX_CONNECTIONS = "Bad Request: bad webhook: max_connections must be between 1 and 100"  # [?]
WRONG_ACTION = "Bad Request: wrong parameter action in request"  # [?]
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CALLBACK_ANSWER_WINDOW = 15.0  # seconds a callback query can be answered  [?]

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# `allowed_updates: []` means all of these; chat_member & co. must be asked for by name.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")
TOKEN_FORMAT_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
WEBHOOK_PORTS = (80, 88, 443, 8443)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def _default_description(code: int) -> str:
    return {
        400: "Bad Request",
        401: UNAUTHORIZED,
        403: BLOCKED,
        404: NOT_FOUND,
        409: CONFLICT_OTHER_POLL,
        429: "Too Many Requests: retry after 1",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(code) or _phrase(code)


class ApiError(Exception):
    """Raised by a method handler (also custom ones) to answer Telegram's error envelope."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters
