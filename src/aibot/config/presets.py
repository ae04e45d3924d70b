"""Vendor presets: base URLs, default models and quirks of OpenAI-compatible providers.

A preset only fills in defaults; any `base_url` or `model` in config.yaml wins, so a proxy or a
new region works without a code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReasoningEcho = Literal["none", "field", "think_tags"]


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


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("openai", "OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", "OPENAI_API_KEY"),
        Preset(
            "minimax",
            "MiniMax",
            "https://api.minimaxi.com/v1",
            "MiniMax-M2",
            "MINIMAX_API_KEY",
            reasoning_echo="think_tags",
        ),
        Preset(
            "zhipu",
            "Zhipu GLM",
            "https://open.bigmodel.cn/api/paas/v4",
            "glm-4.6",
            "ZHIPUAI_API_KEY",
        ),
        Preset(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com/v1",
            "deepseek-chat",
            "DEEPSEEK_API_KEY",
            reasoning_echo="field",
        ),
        Preset(
            "qwen",
            "Qwen (DashScope compatible mode)",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "qwen-plus",
            "DASHSCOPE_API_KEY",
        ),
        Preset(
            "moonshot",
            "Moonshot Kimi",
            "https://api.moonshot.cn/v1",
            "kimi-k2-turbo-preview",
            "MOONSHOT_API_KEY",
            reasoning_echo="field",
        ),
        Preset(
            "siliconflow",
            "SiliconFlow",
            "https://api.siliconflow.cn/v1",
            "deepseek-ai/DeepSeek-V3",
            "SILICONFLOW_API_KEY",
        ),
        Preset("ollama", "Ollama (local)", "http://127.0.0.1:11434/v1", "qwen3:8b", None, False),
        Preset("vllm", "vLLM (local)", "http://127.0.0.1:8000/v1", "default", None, False),
        Preset("llamacpp", "llama.cpp server", "http://127.0.0.1:8080/v1", "default", None, False),
    )
}
