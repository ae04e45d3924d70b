"""LLM-as-judge: a fixed rubric, one call per answer, a robustly parsed 1–5 score.

The rubric is fixed (not configurable) so scores from different runs and teams compare; the
report names the judge model because scores from different judges do not.
"""

from __future__ import annotations

import re

from aibot.core.messages import ChatRequest, Message
from aibot.evaluation.dataset import Case
from aibot.providers.base import Provider, ProviderError

RUBRIC = """You grade an AI assistant's answer to a user's question against a reference answer.
Judge meaning, not wording: a correct answer phrased differently, or in more or fewer words,
is still correct. Do not reward length. Score on this scale:
5 - correct and complete; at least as good as the reference
4 - correct, with a minor omission or a harmless inaccuracy
3 - partly correct, or correct but missing something important
2 - mostly wrong or unhelpful, with a little relevant content
1 - wrong, irrelevant, a refusal, or empty
Reply with "Score: N" (N from 1 to 5) on the first line, then one sentence saying why."""

_LABELLED = re.compile(r"(?:score|rating|评分|得分|分数)\W{0,6}([1-5])(?![\d.]\d)", re.I)
_LEADING = re.compile(r"^[\s*#>_`\"'\[(]*([1-5])(?:\s*/\s*5)?(?![\d.]\d)")


def judge_prompt(case: Case, answer: str) -> list[Message]:
    user = (
        f"Question:\n{case.question}\n\nReference answer:\n{case.reference}\n\n"
        f"Assistant's answer:\n{answer}"
    )
    return [Message("system", RUBRIC), Message("user", user)]


def parse_score(reply: str) -> int | None:
    """The 1–5 score in a judge's reply: a labelled "Score: 4" (also **Score**: 4/5, JSON
    "score": 4, 评分：4) anywhere, else a bare score opening the reply; None when absent."""
    labelled = _LABELLED.search(reply)
    if labelled:
        return int(labelled.group(1))
    leading = _LEADING.match(reply)
    return int(leading.group(1)) if leading else None


class Judge:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    @property
    def name(self) -> str:
        return f"{self.provider.name} ({self.provider.model})"

    async def grade(self, case: Case, answer: str) -> int | None:
        """The score, or None when the judge failed or said nothing parseable: a judge's
        trouble is not the graded model's fault, so it is left out rather than scored low."""
        try:
            result = await self.provider.chat(
                ChatRequest(messages=judge_prompt(case, answer), temperature=0.0)
            )
        except ProviderError:
            return None
        return parse_score(result.text)
