"""No new untranslated words reach people: a literal in a chat reply or a console template fails.

Replies (Python): a string literal with words that is handed to `ctx.answer(...)`, assigned to
`ctx.reply`, returned by a chat command, or sent as `text=`/`content=` by a channel must go
through `translate(...)` (see `aibot.i18n`).

Templates (the console's Jinja files): human text outside `{{ _("…") }}` — text between tags
and `placeholder`/`title`/`aria-label` attributes — may only be what is listed in
`tests/support/i18n_untranslated.json`, the words not yet moved to the catalog. That list only
shrinks: a template that gains a literal fails, and so does an entry no longer found (take it
off the list when you translate it).
"""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment, nodes

SRC = Path(__file__).resolve().parents[2] / "src" / "aibot"
TEMPLATES = SRC / "admin" / "templates"
BASELINE = Path(__file__).resolve().parents[1] / "support" / "i18n_untranslated.json"
WORDS = re.compile(r"[A-Za-z]{2,}[^{}]*\s[A-Za-z]{2,}|[A-Za-z]{4,}")  # a word people read
SENT_KEYWORDS = {"text", "content"}
COMMANDS = SRC / "core" / "commands.py"


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    return None


def _wordy(node: ast.AST | None) -> bool:
    text = _literal(node) if node is not None else None
    return text is not None and bool(WORDS.search(text))


def reply_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    channel = path.parent.parent.name == "channels" and path.name == "channel.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "answer" and any(_wordy(a) for a in node.args):
                found.append((node.lineno, "ctx.answer"))
            if channel and any(k.arg in SENT_KEYWORDS and _wordy(k.value) for k in node.keywords):
                found.append((node.lineno, "sent text"))
        elif isinstance(node, ast.Assign) and _wordy(node.value):
            if any(isinstance(t, ast.Attribute) and t.attr == "reply" for t in node.targets):
                found.append((node.lineno, "ctx.reply"))
        elif channel and isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is not None and _literal(key) in SENT_KEYWORDS and _wordy(value):
                    found.append((node.lineno, "sent text"))
        elif path == COMMANDS and isinstance(node, ast.Return) and _wordy(node.value):
            found.append((node.lineno, "command reply"))
    where = path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path
    return [f"{where}:{line}: {what} is a literal; use translate()" for line, what in sorted(found)]


def test_the_check_finds_a_literal_reply(tmp_path: Path) -> None:
    module = tmp_path / "stage.py"
    module.write_text(
        'def f(ctx):\n    ctx.answer("Sorry, not now")\n    ctx.reply = f"Try {1} later"\n'
        '    ctx.answer(translate(ctx.language, "Sorry, not now"))\n    ctx.answer("👍")\n',
        encoding="utf-8",
    )
    assert [p.split(": ", 1)[1] for p in reply_literals(module)] == [
        "ctx.answer is a literal; use translate()",
        "ctx.reply is a literal; use translate()",
    ]


def test_chat_replies_go_through_the_catalog() -> None:
    problems = [p for path in sorted(SRC.rglob("*.py")) for p in reply_literals(path)]
    assert not problems, "\n".join(problems)


class _Text(HTMLParser):
    """Human text in a piece of HTML: data between tags and the attributes people read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label") and value:
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def template_literals(path: Path) -> set[str]:
    """The human text of one template outside Jinja expressions, one entry per piece."""
    tree = Environment(autoescape=True).parse(path.read_text(encoding="utf-8"))
    parser = _Text()
    for data in tree.find_all(nodes.TemplateData):
        parser.feed(data.data)
    parser.close()
    pieces = (" ".join(text.split()) for text in parser.found)
    return {piece for piece in pieces if WORDS.search(piece)}


def current_template_literals() -> dict[str, list[str]]:
    return {
        path.name: sorted(found)
        for path in sorted(TEMPLATES.glob("*.html"))
        if (found := template_literals(path))
    }


def test_templates_gain_no_untranslated_words() -> None:
    allowed: dict[str, list[str]] = json.loads(BASELINE.read_text(encoding="utf-8"))
    current = current_template_literals()
    new = {
        name: sorted(set(found) - set(allowed.get(name, [])))
        for name, found in current.items()
        if set(found) - set(allowed.get(name, []))
    }
    assert not new, f'untranslated words in templates; wrap them in {{{{ _("…") }}}}: {new}'
    gone = {
        name: sorted(set(words) - set(current.get(name, [])))
        for name, words in allowed.items()
        if set(words) - set(current.get(name, []))
    }
    assert not gone, f"translated now: take these off {BASELINE.name}: {gone}"
