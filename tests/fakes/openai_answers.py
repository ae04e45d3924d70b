"""What the OpenAI fake answers with, shaped as OpenAI shapes it (the fake's server is
``openai_server.py``).

Each shape follows OpenAI's API reference and is checked by the official SDK parsing it
(``tests/unit/test_fake_openai.py``): tool calls (``finish_reason: "tool_calls"``, content
``null``), structured output (an instance of the requested JSON Schema), ``n`` choices,
``logprobs`` per token, usage with its details, embeddings (floats or base64), and the request
checks OpenAI makes that clients trip over (a tool message must answer a call).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

import orjson
from openai.types.chat.completion_create_params import CompletionCreateParamsBase

JSON = dict[str, Any]

# The fields OpenAI's chat endpoint accepts, as the official SDK declares them; with
# ``strict_fields`` the fake refuses others the way OpenAI does.
OPENAI_FIELDS = frozenset(CompletionCreateParamsBase.__annotations__) | {"stream"}

# A function tool as clients declare one; the fake calls it with arguments from its schema.
WEATHER_TOOL: JSON = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


@dataclass(frozen=True, slots=True)
class Invalid(Exception):
    """A request OpenAI refuses with a 400: the message and ``param`` it names."""

    message: str
    param: str | None = None
    code: str | None = None


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or the parts of a multimodal list, where an
    image or audio part reads ``[image]`` / ``[audio]`` so tests can see it arrived."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    out = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            out.append(str(part.get("text", "")))
        elif kind == "image_url":
            out.append("[image]")
        elif kind == "input_audio":
            out.append("[audio]")
        elif kind == "file":
            out.append("[file]")
    return "".join(out)


def content_part_types(content: Any) -> list[str]:
    """The part types of a message ``content``: ``["text"]`` for a string."""
    if isinstance(content, str):
        return ["text"]
    if not isinstance(content, list):
        return []
    return [str(p.get("type")) for p in content if isinstance(p, dict)]


# [D] platform.openai.com audio/createTranscription: the formats it takes, and its 400 for others.
AUDIO_FORMATS_MESSAGE = (
    "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', "
    "'oga', 'ogg', 'wav', 'webm']"
)


def is_audio(data: bytes) -> bool:
    """WAV, Ogg, FLAC, MP3, WebM or MP4 by their first bytes (what the service decodes)."""
    head = data[:12]
    return (
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
        or head.startswith((b"OggS", b"fLaC", b"ID3", b"\x1aE\xdf\xa3", b"\xff\xfb"))
        or head[4:8] == b"ftyp"
    )


def check_request(body: JSON, strict_fields: bool) -> None:
    """Raises ``Invalid`` for what OpenAI refuses before generating anything."""
    if strict_fields:
        unknown = sorted(k for k in body if k not in OPENAI_FIELDS)
        if unknown:
            raise Invalid(f"Unrecognized request argument supplied: {unknown[0]}")
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 128):
        raise Invalid(f"{n} is not a valid value for 'n'", "n")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise Invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    _check_tool_messages(body["messages"])


def _check_tool_messages(messages: list[Any]) -> None:
    """OpenAI's rule: every tool message answers a call of the assistant message before it, and
    every call is answered before the conversation goes on."""
    open_calls: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise Invalid(f"Invalid type for 'messages[{index}]'", f"messages.[{index}]")
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                raise Invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{index}].role",
                )
            open_calls.discard(call_id)
            continue
        if open_calls:
            raise Invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(open_calls))}",
                "messages",
            )
        if role == "assistant":
            open_calls = {
                str(c.get("id")) for c in message.get("tool_calls") or () if isinstance(c, dict)
            }


def example_of(schema: Any, defs: JSON | None = None, depth: int = 0) -> Any:
    """A small instance of a JSON Schema: what a model asked for structured output returns."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    defs = (
        defs if defs is not None else {**schema.get("$defs", {}), **schema.get("definitions", {})}
    )
    if "$ref" in schema:
        return example_of(defs.get(schema["$ref"].rsplit("/", 1)[-1]), defs, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_of(schema[key][0], defs, depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: example_of(sub, defs, depth + 1) for name, sub in props.items()}
    if kind == "array":
        return [example_of(schema.get("items", {}), defs, depth + 1)]
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": True}.get(str(kind))


def structured_answer(body: JSON, answer: str) -> str | None:
    """The content a JSON-mode or JSON-Schema request gets, or None for plain text."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        return orjson.dumps(example_of(spec.get("schema", {}))).decode()
    if response_format.get("type") == "json_object":
        shown = schema_in_prompt(body)
        return orjson.dumps(example_of(shown) if shown else {"answer": answer}).decode()
    return None


def schema_in_prompt(body: JSON) -> JSON | None:
    """A JSON Schema the system prompt shows the model (JSON mode with a schema described in
    words, as vendors without structured output are used): the fake follows it, as a model
    told to would."""
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if message.get("role") != "system" or not isinstance(content, str) or "{" not in content:
            continue
        try:
            schema = orjson.loads(content[content.index("{") :])
        except orjson.JSONDecodeError:
            continue
        if isinstance(schema, dict) and "properties" in schema:
            found: JSON = schema
            return found
    return None


def tool_call_to_make(body: JSON) -> JSON | None:
    """The function a request with tools gets called, as a model would: the named one, or the
    first, unless the last message already is a tool's result (then the model answers)."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and t.get("function")]
    choice = body.get("tool_choice", "auto")
    messages = body["messages"]
    if not tools or choice == "none" or (messages and messages[-1].get("role") == "tool"):
        return None
    function = tools[0]["function"]
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        function = next((t["function"] for t in tools if t["function"]["name"] == wanted), function)
    chosen: JSON = function
    return chosen


def tool_arguments(function: JSON, body: JSON) -> str:
    """Arguments for ``function``: its schema's example, string fields set to the user's text."""
    args = example_of(function.get("parameters") or {"type": "object"})
    asked = last_user_text(body)
    if isinstance(args, dict):
        args = {k: asked if isinstance(v, str) else v for k, v in args.items()}
    return orjson.dumps(args if args is not None else {}).decode()


def last_user_text(body: JSON) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def logprobs_for(pieces: list[str], top: int) -> JSON:
    """OpenAI's ``logprobs`` object for ``pieces`` as the tokens, with ``top`` alternatives."""
    content = []
    for index, piece in enumerate(pieces):
        value = -0.01 * (index % 7 + 1)
        alternatives = [
            {"token": piece, "logprob": value, "bytes": list(piece.encode())},
            *(
                {"token": f"alt{i}", "logprob": value - i, "bytes": list(f"alt{i}".encode())}
                for i in range(1, top)
            ),
        ][:top]
        content.append(
            {
                "token": piece,
                "logprob": value,
                "bytes": list(piece.encode()),
                "top_logprobs": alternatives,
            }
        )
    return {"content": content, "refusal": None}


def usage_of(prompt: int, completion: int, reasoning: int) -> JSON:
    """Usage as OpenAI reports it, the details included."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def embedding_of(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-ish vector for ``text``: equal texts embed equally."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = (seed * (dimensions // len(seed) + 1))[:dimensions]
    return [round((b - 127.5) / 127.5, 6) for b in raw]


def embeddings_answer(body: JSON, default_dimensions: int) -> JSON:
    """``POST /v1/embeddings``: one embedding per input, floats or base64 float32 (the Python
    SDK asks for base64 by default and decodes it)."""
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        raise Invalid("'input' is a required property", "input")
    dimensions = body.get("dimensions") or default_dimensions
    encoding = body.get("encoding_format", "float")
    data = []
    for index, item in enumerate(inputs):
        vector = embedding_of(str(item), dimensions)
        value: Any = vector
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = sum(len(str(i)) // 4 + 1 for i in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", ""),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
