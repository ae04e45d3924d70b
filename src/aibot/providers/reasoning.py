"""Separating a model's hidden reasoning from its answer.

Some models (MiniMax-M2, Qwen3, DeepSeek-R1 served by Ollama/vLLM) put their chain of thought
inside `content` as `<think>…</think>`; in a stream the tags can be split across chunks. Users
must never see it, and it must not be stored as answer text.
"""

from __future__ import annotations

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkTagSplitter:
    """Incremental splitter: feed content chunks, get (answer, reasoning) pieces back."""

    __slots__ = ("_buffer", "_inside", "_seen_answer")

    def __init__(self) -> None:
        self._buffer = ""
        self._inside = False
        self._seen_answer = False

    def feed(self, chunk: str) -> tuple[str, str]:
        self._buffer += chunk
        answer: list[str] = []
        reasoning: list[str] = []
        while self._buffer:
            tag = CLOSE_TAG if self._inside else OPEN_TAG
            index = self._buffer.find(tag)
            if index >= 0:
                self._emit(self._buffer[:index], answer, reasoning)
                self._buffer = self._buffer[index + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_suffix(self._buffer, tag)
            self._emit(self._buffer[: len(self._buffer) - keep], answer, reasoning)
            self._buffer = self._buffer[len(self._buffer) - keep :]
            break
        return "".join(answer), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        rest, self._buffer = self._buffer, ""
        answer: list[str] = []
        reasoning: list[str] = []
        self._emit(rest, answer, reasoning)
        return "".join(answer), "".join(reasoning)

    def _emit(self, text: str, answer: list[str], reasoning: list[str]) -> None:
        if not text:
            return
        if self._inside:
            reasoning.append(text)
            return
        if not self._seen_answer:
            # Models put a blank line after </think>; don't start the visible answer with it.
            text = text.lstrip()
            if not text:
                return
            self._seen_answer = True
        answer.append(text)


def split_think_tags(content: str) -> tuple[str, str]:
    """Whole-text form of ThinkTagSplitter for non-streamed answers. Without an opening tag
    that is the text less its leading blank, which most answers are: no splitter is made."""
    if OPEN_TAG not in content:
        return content.lstrip(), ""
    splitter = ThinkTagSplitter()
    answer, reasoning = splitter.feed(content)
    tail_answer, tail_reasoning = splitter.flush()
    return answer + tail_answer, reasoning + tail_reasoning
