"""Vendor presets: base URLs, default models and quirks of OpenAI-compatible providers.

A preset only fills in defaults; any `base_url` or `model` in config.yaml wins, so a proxy or a
new region works without a code change. `accepts` says which OpenAI chat fields the vendor's
endpoint takes, so a pass-through (`/v1`) adapts a request inside the preset instead of every
caller learning each vendor: the comment above each preset names where each fact comes from
([D] the vendor's documentation, [S] an SDK's or litellm's source, [3P] third-party copies of the
vendor's text, [?] not confirmed: then the field is forwarded and the vendor's own error, if
any, reaches the caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ReasoningEcho = Literal["none", "field", "think_tags"]
# Which limit field the vendor reads; "either": both, as sent (OpenAI itself).
MaxTokensField = Literal["max_tokens", "max_completion_tokens", "either"]
# "json_object": the vendor has JSON mode only, so a json_schema request is sent as json_object
# with the schema given to the model in a system message (the caller still validates).
JsonSchemaMode = Literal["native", "json_object"]


@dataclass(frozen=True, slots=True)
class Accepts:
    """The OpenAI chat fields a vendor's endpoint takes.

    A feature that changes what the answer is (`n` > 1, `logprobs`, `tools`, image or audio
    parts) is refused with a 400 when the vendor cannot do it: dropping it would return a
    different answer than the caller asked for. A hint (`parallel_tool_calls`,
    `reasoning_effort`, `stream_options`) is dropped with a logged warning.
    """

    max_tokens_field: MaxTokensField = "max_tokens"
    n: bool = True
    stream_options: bool = True
    tools: bool = True
    tool_choice_auto_only: bool = False  # only "auto" (or none given) is accepted
    parallel_tool_calls: bool = True
    json_schema: JsonSchemaMode = "native"
    logprobs: bool = True
    reasoning_effort: bool = True
    vision: bool = True
    audio: bool = False
    files: bool = False  # OpenAI's `file` content part (a PDF as input); no other preset lists it
    vendor_fields: bool = True  # fields OpenAI does not define (vendors add their own)


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    title: str
    base_url: str
    model: str
    env_key: str | None
    needs_key: bool = True
    # How an assistant turn's stored reasoning is sent back in history:
    # DeepSeek's thinking mode accepts (and, around tool calls, requires) `reasoning_content`;
    # MiniMax M2 documents keeping its `<think>` block in the history for interleaved thinking.
    reasoning_echo: ReasoningEcho = "none"
    accepts: Accepts = field(default_factory=Accepts)
    embedding_model: str | None = None  # for /v1/embeddings; None: the vendor has none
    key_url: str | None = None  # the vendor console page where a user makes an API key


# A provider without a preset (`base_url` only) is some OpenAI-compatible server: forward all.
GENERIC = Accepts(max_tokens_field="either", audio=True, files=True)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        # [S] openai-python types/chat/completion_create_params.py: every field; `max_tokens` is
        # deprecated for `max_completion_tokens` but both are accepted. OpenAI answers 400
        # "Unrecognized request argument" to fields it does not define.
        Preset(
            "openai",
            "OpenAI",
            "https://api.openai.com/v1",
            "gpt-4o-mini",
            "OPENAI_API_KEY",
            key_url="https://platform.openai.com/api-keys",
            accepts=Accepts(max_tokens_field="either", audio=True, files=True, vendor_fields=False),
            embedding_model="text-embedding-3-small",
        ),
        # [3P quoting D platform.minimax.io/docs/api-reference/text-openai-api]:
        # `max_completion_tokens`; vision on M3 through content parts; `<think>` kept in content.
        # n, logprobs: not offered on the OpenAI endpoint [?]; json_schema [?]; no audio parts,
        # no embeddings endpoint found [?]. reasoning_split is a vendor field.
        Preset(
            "minimax",
            "MiniMax",
            "https://api.minimaxi.com/v1",
            "MiniMax-M2",
            "MINIMAX_API_KEY",
            key_url="https://platform.minimaxi.com/user-center/basic-information/interface-key",
            reasoning_echo="think_tags",
            accepts=Accepts(
                max_tokens_field="max_completion_tokens",
                n=False,
                logprobs=False,
                reasoning_effort=False,
            ),
        ),
        # [3P quoting D docs.z.ai/api-reference chat-completion]: tools (tool_choice auto only),
        # response_format text/json_object only; [S] litellm ZAIChatConfig: max_tokens (rewrites
        # max_completion_tokens), stream_options, no n, no parallel_tool_calls; thinking is the
        # vendor field `thinking`, not reasoning_effort. [D docs.bigmodel.cn 文本嵌入]: embedding-3.
        Preset(
            "zhipu",
            "Zhipu GLM",
            "https://open.bigmodel.cn/api/paas/v4",
            "glm-4.6",
            "ZHIPUAI_API_KEY",
            key_url="https://open.bigmodel.cn/usercenter/apikeys",
            accepts=Accepts(
                n=False,
                tool_choice_auto_only=True,
                parallel_tool_calls=False,
                json_schema="json_object",
                logprobs=False,
                reasoning_effort=False,
            ),
            embedding_model="embedding-3",
        ),
        # [D api-docs.deepseek.com/api/create-chat-completion]: max_tokens, stream_options,
        # tools, logprobs/top_logprobs; no `n`. [D guides/json_mode]: json_object only.
        # [D guides/thinking_mode]: reasoning_effort, `thinking` vendor field, reasoning_content.
        # [D guides/vision]: images on deepseek-flash. [D guides/asr]: audio is a separate
        # endpoint, not a chat part. No embeddings [?].
        Preset(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com/v1",
            "deepseek-chat",
            "DEEPSEEK_API_KEY",
            key_url="https://platform.deepseek.com/api_keys",
            reasoning_echo="field",
            accepts=Accepts(n=False, parallel_tool_calls=False, json_schema="json_object"),
        ),
        # [3P copies of the DashScope compatible-mode reference]: n 1–4, parallel_tool_calls,
        # logprobs/top_logprobs, json_object (json_schema on newer models only [?]).
        # [D alibabacloud deep-thinking]: stream_options.include_usage; thinking is the vendor
        # fields enable_thinking/thinking_budget. [D qwen-asr-api-reference]: input_audio parts.
        # [S litellm dashscope embed]: text-embedding-v4.
        Preset(
            "qwen",
            "Qwen (DashScope compatible mode)",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "qwen-plus",
            "DASHSCOPE_API_KEY",
            key_url="https://bailian.console.aliyun.com/?apiKey=1",
            accepts=Accepts(json_schema="json_object", reasoning_effort=False, audio=True),
            embedding_model="text-embedding-v4",
        ),
        # [3P quoting D platform.kimi.ai/docs]: max_completion_tokens; n, temperature, top_p and
        # the penalties "cannot be modified" on k2.6+ (an error if sent); json_object and
        # json_schema; reasoning_effort on K3; images as base64. logprobs, stream_options [?].
        Preset(
            "moonshot",
            "Moonshot Kimi",
            "https://api.moonshot.cn/v1",
            "kimi-k2-turbo-preview",
            "MOONSHOT_API_KEY",
            key_url="https://platform.moonshot.cn/console/api-keys",
            reasoning_echo="field",
            accepts=Accepts(max_tokens_field="max_completion_tokens", n=False),
        ),
        # [3P quoting D docs.siliconflow.cn guides/json-mode]: json_object, Structured Outputs
        # "Not supported"; [D userguide/capabilities/vision]: image_url parts; thinking is the
        # vendor fields enable_thinking/thinking_budget. n, logprobs [?]. Embeddings: bge-m3.
        Preset(
            "siliconflow",
            "SiliconFlow",
            "https://api.siliconflow.cn/v1",
            "deepseek-ai/DeepSeek-V3",
            "SILICONFLOW_API_KEY",
            key_url="https://cloud.siliconflow.cn/account/ak",
            accepts=Accepts(json_schema="json_object", reasoning_effort=False),
            embedding_model="BAAI/bge-m3",
        ),
        # [D docs.ollama.com/api/openai-compatibility]: max_tokens, stream_options, tools,
        # tool_choice, response_format, reasoning_effort, logprobs, images; no `n` and no
        # parallel_tool_calls among the supported fields.
        Preset(
            "ollama",
            "Ollama (local)",
            "http://127.0.0.1:11434/v1",
            "qwen3:8b",
            None,
            False,
            accepts=Accepts(n=False, parallel_tool_calls=False),
        ),
        # [D docs.vllm.ai serving/openai_compatible_server, features/tool_calling,
        # features/structured_outputs]: the OpenAI sampling fields, n, both token limits, tools,
        # json_schema, images and audio parts on models that take them.
        Preset(
            "vllm",
            "vLLM (local)",
            "http://127.0.0.1:8000/v1",
            "default",
            None,
            False,
            accepts=Accepts(max_tokens_field="either", audio=True),
        ),
        # [D llama.cpp tools/server/README.md]: OpenAI chat with tools (--jinja),
        # response_format json_schema, logprobs, image and audio parts (multimodal models);
        # one completion per request (no `n` [?]); reasoning is set per server, not per request.
        Preset(
            "llamacpp",
            "llama.cpp server",
            "http://127.0.0.1:8080/v1",
            "default",
            None,
            False,
            accepts=Accepts(n=False, reasoning_effort=False, audio=True),
        ),
    )
}


# Model names that read pictures, as their vendors name them (PROTOCOLS-media-vendors-mcp §V):
# OpenAI GPT-4o/4.1/5 and o-series, GLM-4V/4.5V/4.6V/5V and GLM-5.3-Flash, Qwen-VL/Qwen3.x
# (VL and omni), MiniMax-VL/M3, Kimi K3/K2.6/K2.7-Code and moonshot *-vision, DeepSeek Flash,
# Gemma 4, local llava/qwen-vl/minicpm-v/llama3.2-vision under Ollama. Lower-case substrings.
VISION_MODELS = (
    "gpt-4o", "gpt-4.1", "gpt-5", "o3", "o4-mini", "chatgpt-4o",
    "glm-4v", "glm-4.5v", "glm-4.6v", "glm-5v", "glm-5.3-flash",
    "qwen-vl", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "qwen3.8", "qwen3.7-plus", "qwen3.5-plus",
    "-omni", "minimax-vl", "minimax-m3", "kimi-k3", "kimi-k2.6", "kimi-k2.7-code", "-vision",
    "deepseek-flash", "gemma-4", "gemma3", "llava", "minicpm-v", "pixtral", "internvl",
)  # fmt: skip


def sees_images(model: str | None) -> bool:
    """Whether a model name is one of the known vision models (`vision:` in config wins)."""
    name = (model or "").lower()
    return any(marker in name for marker in VISION_MODELS)
