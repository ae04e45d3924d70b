"""No new untranslated words reach people: a literal in a chat reply or a console template fails.

Replies (Python): a string literal with words that is handed to `ctx.answer(...)`, assigned to
`ctx.reply`, returned by a chat command, or sent as `text=`/`content=` by a channel must go
through `translate(...)` (see `aibot.i18n`).

The CLI (`src/aibot/cli`): a string literal with words handed to what prints it — `print`,
`echo`, `fail`, `print_error`, a prompt's `ask`, `status`, a doctor `Check`, a table's columns
and rows — must be `tr(...)` (the CLI's language); an option's or command's `help=` is a msgid,
`help=N_(...)`, translated when a help page is shown (cli/help_text.py). A command or a file
name is not words: build it into a variable first. Every command and group declares its help
with `help=N_(...)` (typer would show the English docstring otherwise).

A channel's doctor (`src/aibot/channels/*/doctor.py`, rows `ai-bot doctor` prints): the same
rule for a `Check`, and any other literal of two or more words outside a docstring must be the
msgid of `translate(...)` or `N_(...)`, since a detail or a fix is usually built in a variable
before it reaches its `Check`.
A channel's status problem (`Problem` in channels/base.py, shown by /readyz and the console)
takes its msgid marked `N_(...)`.

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
CLI = SRC / "cli"
CHANNEL_DOCTORS = sorted((SRC / "channels").glob("*/doctor.py"))
MSGID_ARGUMENT = {"translate": 1, "N_": 0, "tr": 0}  # which argument of each call is the msgid
PROSE = re.compile(r"[A-Za-z]{2,}[,.:;!?'\")\]]*\s+['\"(\[]*[A-Za-z]{2,}")  # two words or more
# Calls that show their arguments to a person; for these the positional arguments are checked.
SHOWN = {"print", "echo", "secho", "fail", "print_error", "ask", "status", "Table", "add_column"}
SHOWN |= {"add_row", "ProbeFailure", "confirm", "prompt"}
CHECK_WORDS = (0, 2, 3)  # a doctor Check's name, detail and fix (1 is its status)
HELP_KEYWORDS = {"help", "title", "prompt", "rich_help_panel", "short_help", "epilog"}
DECLARES = {"command", "callback", "Typer"}  # must carry help=
MARKUP = re.compile(r"\[/?[a-z][a-z .#0-9]*\]|\{[^{}]*\}")  # rich markup and placeholders


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


def _cli_literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [_cli_literal(node.left), _cli_literal(node.right)]
        return " ".join(p for p in parts if p) or None
    return _literal(node)


def _cli_wordy(node: ast.AST) -> bool:
    text = _cli_literal(node)
    return text is not None and bool(WORDS.search(MARKUP.sub(" ", text)))


def _callee(node: ast.Call) -> str:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else ""


def cli_literals(path: Path) -> list[str]:
    """Words in `path` (a CLI module) that reach a person without `tr(...)`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        shown = list(node.args) if name in SHOWN else []
        if name == "Check":
            shown = [a for i, a in enumerate(node.args) if i in CHECK_WORDS]
        shown += [k.value for k in node.keywords if k.arg in HELP_KEYWORDS]
        found += [(node.lineno, f"{name}() shows a literal") for a in shown if _cli_wordy(a)]
        is_typer = isinstance(node.func, ast.Attribute) and name in DECLARES
        if (is_typer or name == "Typer") and not any(k.arg == "help" for k in node.keywords):
            found.append((node.lineno, f"{name}() without help=N_(...)"))
    where = path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path
    return [f"{where}:{line}: {what}; use tr()" for line, what in sorted(found)]


def test_the_check_finds_a_literal_in_cli_output(tmp_path: Path) -> None:
    module = tmp_path / "command.py"
    module.write_text(
        "@app.command()\n"
        'def f():\n    fail("cannot open the store")\n'
        '    console.print(f"[green]✔[/] wrote {path}")\n'
        '    console.print(tr("wrote {path}", path=path))\n'
        '    Check(tr("port"), "warn", "in use", tr("stop it"))\n'
        '    typer.Option("--port", help="Gateway port.")\n'
        '    console.print(f"[bold]{name}[/]")\n',
        encoding="utf-8",
    )
    assert [p.split(": ", 1)[1] for p in cli_literals(module)] == [
        "command() without help=N_(...); use tr()",
        "fail() shows a literal; use tr()",
        "print() shows a literal; use tr()",
        "Check() shows a literal; use tr()",
        "Option() shows a literal; use tr()",
    ]


def test_cli_output_goes_through_the_catalog() -> None:
    problems = [p for path in sorted(CLI.glob("*.py")) for p in cli_literals(path)]
    assert not problems, "\n".join(problems)


def _msgids_and_docstrings(tree: ast.AST) -> set[int]:
    """The ids of the literals that may hold words: msgids, and docstrings."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) in MSGID_ARGUMENT:
            index = MSGID_ARGUMENT[_callee(node)]
            allowed |= {id(a) for a in node.args[index : index + 1]}
        elif isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                allowed.add(id(first.value))
    return allowed


def doctor_literals(path: Path) -> list[str]:
    """Words in `path` (a channel's doctor) outside the catalog: a `Check`'s name, detail or
    fix as for the CLI, and any other literal of two or more words that is not a msgid."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    allowed = _msgids_and_docstrings(tree)
    pieces = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant | ast.JoinedStr)
        and id(node) not in allowed | pieces
        and PROSE.search(MARKUP.sub(" ", _literal(node) or ""))
    }
    where = path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path
    checks = [p.replace("use tr()", "use translate()") for p in cli_literals(path)]
    return checks + [f"{where}:{line}: words outside translate() or N_()" for line in sorted(found)]


def test_the_check_finds_a_literal_in_a_channel_doctor(tmp_path: Path) -> None:
    module = tmp_path / "doctor.py"
    module.write_text(
        '"""A doctor: its docstring may say anything."""\n'
        "def f(language, exc):\n"
        '    """So may a function\'s."""\n'
        '    fix = "get a new token" if exc else translate(language, "check the URL")\n'
        '    hint = N_("copy the App ID")\n'
        '    detail = f"getMe failed: {exc}"\n'
        '    body = f"<xml><Content>{exc}</Content></xml>"\n'
        '    return Check("telegram", "fail", detail, translate(language, hint))\n',
        encoding="utf-8",
    )
    found = doctor_literals(module)
    assert [(int(p.split(":")[1]), p.split(": ", 1)[1]) for p in found] == [
        (8, "Check() shows a literal; use translate()"),
        (4, "words outside translate() or N_()"),
        (6, "words outside translate() or N_()"),
    ]


def test_channel_doctors_go_through_the_catalog() -> None:
    assert len(CHANNEL_DOCTORS) >= 4, CHANNEL_DOCTORS
    problems = [p for path in CHANNEL_DOCTORS for p in doctor_literals(path)]
    assert not problems, "\n".join(problems)


def _marked(node: ast.expr) -> bool:
    """`N_("…")`, or a choice between two of them."""
    if isinstance(node, ast.IfExp):
        return _marked(node.body) and _marked(node.orelse)
    return isinstance(node, ast.Call) and _callee(node) == "N_"


def unmarked_problems(path: Path) -> list[str]:
    """A channel's status `Problem` (imported in wecom/verify.py as `Fix`) whose msgid is not
    marked `N_(...)`: the extraction would miss it and every reader would get English."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and _callee(node) in ("Problem", "Fix")
        and not (node.args and _marked(node.args[0]))
    ]
    where = path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path
    return [f"{where}:{line}: Problem(...) without N_(...)" for line in found]


def test_channel_status_problems_are_marked_for_the_catalog(tmp_path: Path) -> None:
    module = tmp_path / "channel.py"
    module.write_text(
        'a = Problem(N_("getMe failed: {error}"), {"error": e})\n'
        'b = Problem(f"getMe failed: {e}")\n',
        encoding="utf-8",
    )
    assert [p.split(": ", 1)[1] for p in unmarked_problems(module)] == [
        "Problem(...) without N_(...)"
    ]
    problems = [p for path in sorted(SRC.rglob("*.py")) for p in unmarked_problems(path)]
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
