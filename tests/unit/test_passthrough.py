"""Adapting a caller's OpenAI body to a vendor: only what the preset says changes, the rest is
the caller's own objects (not copies), and what a vendor cannot do is refused with a 400."""

from __future__ import annotations

from typing import Any

import pytest

from aibot.config.presets import GENERIC, PRESETS, Accepts
from aibot.providers.base import ProviderError, caller_fault
from aibot.providers.passthrough import adapt_body

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "asked", "messages": [{"role": "user", "content": "hi"}], **extra}


def adapt(preset: str | None, sent: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    accepts = PRESETS[preset].accepts if preset else GENERIC
    return adapt_body(sent, model="real", accepts=accepts, provider="p", stream=stream)


def test_generic_provider_forwards_everything_but_the_model_name() -> None:
    sent = body(max_completion_tokens=5, n=3, vendor_knob={"a": 1}, parallel_tool_calls=False)
    out = adapt(None, sent)
    assert out == {**sent, "model": "real"}
    assert out["messages"] is sent["messages"]  # shared, not rebuilt
    assert sent["model"] == "asked"  # the caller's dict is not changed


@pytest.mark.parametrize(
    ("preset", "sent", "param"),
    [
        ("deepseek", body(n=2), "n"),
        ("zhipu", body(logprobs=True), "logprobs"),
        ("zhipu", body(tool_choice="required"), "tool_choice"),
        (
            "deepseek",
            {"model": "m", "messages": [{"role": "user", "content": [AUDIO]}]},
            "messages[0].content",
        ),
        (
            "moonshot",
            {"model": "m", "messages": [{"role": "user", "content": [AUDIO]}]},
            "messages[0].content",
        ),
    ],
)
def test_what_a_vendor_cannot_do_is_a_400(preset: str, sent: dict[str, Any], param: str) -> None:
    with pytest.raises(ProviderError) as caught:
        adapt(preset, sent)
    assert caught.value.status == 400 and caller_fault(caught.value)
    assert caught.value.detail is not None and caught.value.detail["param"] == param


def test_images_pass_where_the_vendor_has_vision() -> None:
    sent = {"model": "m", "messages": [{"role": "user", "content": [IMAGE]}]}
    assert adapt("deepseek", sent)["messages"] is sent["messages"]
    with pytest.raises(ProviderError):
        adapt_body(sent, model="m", accepts=Accepts(vision=False), provider="p", stream=False)


def test_token_limit_field_is_the_vendors() -> None:
    assert adapt("deepseek", body(max_completion_tokens=7))["max_tokens"] == 7
    assert "max_completion_tokens" not in adapt("deepseek", body(max_completion_tokens=7))
    assert adapt("minimax", body(max_tokens=7))["max_completion_tokens"] == 7
    both = adapt("openai", body(max_tokens=3, max_completion_tokens=4))
    assert (both["max_tokens"], both["max_completion_tokens"]) == (3, 4)


def test_hints_are_dropped_and_openai_drops_fields_it_does_not_define() -> None:
    out = adapt("zhipu", body(parallel_tool_calls=True, reasoning_effort="low", thinking={}))
    assert "parallel_tool_calls" not in out and "reasoning_effort" not in out
    assert out["thinking"] == {}  # Zhipu's own field
    assert "thinking" not in adapt("openai", body(thinking={}))


def test_streams_always_ask_for_usage() -> None:
    out = adapt("deepseek", body(stream=True, stream_options={"include_usage": False}), True)
    assert out["stream_options"] == {"include_usage": True}
    assert adapt(None, body(), stream=True)["stream"] is True


def test_json_schema_on_a_json_mode_vendor() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    out = adapt("deepseek", body(response_format=fmt))
    assert out["response_format"] == {"type": "json_object"}
    assert out["messages"][0]["role"] == "system"
    assert '{"type":"object"' in out["messages"][0]["content"]
    assert out["messages"][1:] == body()["messages"]
    assert adapt("openai", body(response_format=fmt))["response_format"] == fmt


def test_file_parts_pass_only_where_the_vendor_reads_files() -> None:
    pdf = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
    }
    sent = {"model": "m", "messages": [{"role": "user", "content": [pdf]}]}
    assert adapt("openai", sent)["messages"] is sent["messages"]
    assert adapt(None, sent)["messages"] is sent["messages"]
    with pytest.raises(ProviderError) as caught:
        adapt("deepseek", sent)
    assert caught.value.detail is not None
    assert caught.value.detail["message"] == "The model 'p' does not support file input."
