"""Adapting an API caller's OpenAI chat body to one vendor, changing only what the vendor needs.

The body is the caller's own JSON, parsed once; it is copied at the top level (the messages are
shared, not rebuilt) and only the fields a preset's `Accepts` says the vendor takes differently
are touched: the model name, the token-limit field, hints the vendor does not know (dropped with
a warning), JSON Schema output on a JSON-mode-only vendor, fields OpenAI does not define. A
feature the vendor cannot do at all is refused with a 400 naming the parameter, never dropped.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog

from aibot.config.presets import Accepts
from aibot.providers.base import ProviderError

log = structlog.get_logger("aibot.providers")

# [S] openai-python types/chat/completion_create_params.py (3.x): every documented field.
OPENAI_CHAT_FIELDS = frozenset(
    {
        "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
        "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
        "modalities", "moderation", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning_effort",
        "response_format", "safety_identifier", "seed", "service_tier", "stop", "store",
        "stream", "stream_options", "temperature", "tool_choice", "tools", "top_logprobs",
        "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip

# Content part types that need a vendor feature, and the `Accepts` flag that says it has it.
_PART_FEATURES = {"image_url": "vision", "input_audio": "audio", "file": "files"}
_PART_LABELS = {"vision": "image input", "audio": "audio input", "files": "file input"}

SCHEMA_PROMPT = (
    "Answer with one JSON object only, no other text. It must be valid against this JSON "
    "Schema:\n{schema}"
)


def unsupported(provider: str, param: str, what: str) -> ProviderError:
    """The 400 a caller gets for a feature this provider's vendor does not offer."""
    return ProviderError(
        f"the model '{provider}' does not support {what}",
        provider=provider,
        status=400,
        detail={
            "message": f"The model '{provider}' does not support {what}.",
            "type": "invalid_request_error",
            "param": param,
            "code": "unsupported_parameter",
        },
    )


def adapt_body(
    body: dict[str, Any], *, model: str, accepts: Accepts, provider: str, stream: bool
) -> dict[str, Any]:
    """The body to send to `provider`: a top-level copy of `body` with the preset's changes."""
    out = dict(body)
    out["model"] = model
    _check_features(out, accepts, provider)
    _limit_field(out, accepts)
    for hint in ("parallel_tool_calls", "reasoning_effort"):
        if hint in out and not getattr(accepts, hint):
            del out[hint]
            log.warning(
                "field not supported by the provider; dropped", provider=provider, field=hint
            )
    if stream:
        out["stream"] = True
        if accepts.stream_options:
            # Usage is needed for quotas and metrics even when the caller did not ask for it;
            # the caller's stream then leaves the usage chunk out (see the /v1 channel).
            out["stream_options"] = {**(out.get("stream_options") or {}), "include_usage": True}
        else:
            out.pop("stream_options", None)
    if accepts.json_schema == "json_object":
        _schema_as_json_mode(out)
    if not accepts.vendor_fields:
        for name in [k for k in out if k not in OPENAI_CHAT_FIELDS]:
            del out[name]
            log.warning("field unknown to the provider; dropped", provider=provider, field=name)
    return out


def _check_features(out: dict[str, Any], accepts: Accepts, provider: str) -> None:
    if out.get("n") not in (None, 1) and not accepts.n:
        raise unsupported(provider, "n", "more than one choice (n > 1)")
    if out.get("logprobs") and not accepts.logprobs:
        raise unsupported(provider, "logprobs", "logprobs")
    if out.get("tools") and not accepts.tools:
        raise unsupported(provider, "tools", "tools")
    if out.get("tool_choice") not in (None, "auto") and accepts.tool_choice_auto_only:
        raise unsupported(provider, "tool_choice", 'a tool_choice other than "auto"')
    if not (accepts.vision and accepts.audio and accepts.files):
        _check_parts(out, accepts, provider)


def _check_parts(out: dict[str, Any], accepts: Accepts, provider: str) -> None:
    """Image, audio and file content parts, where the vendor cannot read them."""
    for index, message in enumerate(out.get("messages") or ()):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            feature = _PART_FEATURES.get(kind) if isinstance(kind, str) else None
            if feature is not None and not getattr(accepts, feature):
                label = _PART_LABELS[feature]
                raise unsupported(provider, f"messages[{index}].content", label)


def _limit_field(out: dict[str, Any], accepts: Accepts) -> None:
    wanted = accepts.max_tokens_field
    if wanted == "either":
        return
    other = "max_tokens" if wanted == "max_completion_tokens" else "max_completion_tokens"
    if other in out:
        value = out.pop(other)
        out.setdefault(wanted, value)


def _schema_as_json_mode(out: dict[str, Any]) -> None:
    """JSON Schema output on a vendor with JSON mode only: JSON mode, and the schema told to the
    model (such vendors also require the prompt to ask for JSON)."""
    response_format = out.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
    out["response_format"] = {"type": "json_object"}
    prompt = SCHEMA_PROMPT.format(schema=orjson.dumps(schema).decode())
    out["messages"] = [{"role": "system", "content": prompt}, *(out.get("messages") or ())]
