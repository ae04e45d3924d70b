"""The response mask's own rules (ops/secret_guard.py): every form of a configured secret is
masked in any header value and body chunk, to the same length; a message without one is passed
on as it is, without being copied."""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.types import Message

from aibot.ops.secret_guard import byte_patterns, mask_message

SECRET = 'sk-live/"key"&123'
PATTERNS = byte_patterns((SECRET, "other-secret-456"))


def start(*headers: tuple[bytes, bytes]) -> Message:
    return {"type": "http.response.start", "status": 200, "headers": list(headers)}


def test_a_secret_in_any_header_value_is_masked_and_the_rest_kept() -> None:
    message = start(
        (b"content-type", b"application/json"),
        (b"location", b"https://x.example/?k=" + quote(SECRET, safe="").encode()),
        (b"x-echo", b"other-secret-456 again"),
    )
    masked = mask_message(message, PATTERNS)
    values = [value for _name, value in masked["headers"]]
    assert values[0] == b"application/json"
    assert quote(SECRET, safe="").encode() not in values[1]
    assert values[2] == b"oth************* again"
    assert [len(v) for v in values] == [len(v) for _n, v in message["headers"]]


def test_every_form_of_a_secret_in_a_body_chunk_is_masked_to_the_same_length() -> None:
    forms = [SECRET, json.dumps(SECRET)[1:-1], quote(SECRET, safe=""), quote(SECRET, safe="/:")]
    body = " | ".join(forms).encode()
    masked = mask_message({"type": "http.response.body", "body": body, "more_body": True}, PATTERNS)
    assert len(masked["body"]) == len(body) and masked["more_body"] is True
    assert not any(form.encode() in masked["body"] for form in forms)


def test_a_message_without_a_secret_is_passed_on_uncopied() -> None:
    headers = start((b"content-type", b"application/json"), (b"x-request-id", b"0" * 32))
    body = {"type": "http.response.body", "body": b'{"reply": "nothing secret here"}'}
    assert mask_message(headers, PATTERNS) is headers
    assert mask_message(body, PATTERNS) is body
