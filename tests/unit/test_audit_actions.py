"""Every action the audit log is written with has a label the console shows.

The stored codes (`login`, `token.issue`, `event.bot_added`, …) are data: the store keeps them
and exports and scripts match them, so they never change; the console's audit page shows each
as a label in the reader's language (`ACTIONS` in admin/words.py) beside its code. This test
collects the codes from the source, the action argument of every call that writes an audit
entry, so a new code without a label fails here, as does a label whose code is no longer
written.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from aibot.admin.words import ACTIONS
from aibot.core.events import EventKind

SRC = Path(__file__).resolve().parents[2] / "src" / "aibot"
# The calls that write an audit entry, and which positional argument is the action.
WRITERS = {
    "AuditEntry": 2,  # store/audit.py: (at, actor, action, target, ip)
    "ToolAudit": 1,  # tools/registry.py: (actor, action, target)
    "_back": 2,  # admin/page.py: (call, page, action, target)
    "_steer": 1,  # admin/pages_schedules.py: (call, action)
    "_audit": 1,  # cli/canary.py: (loaded, action, target)
    "record": 0,  # cli/admin.py's Store: (action, target); AuditLog.record takes an entry
}
# Principal.audit(action, target); the store's audit(actor, action, target, now).
AUDIT_METHOD = {2: 0, 1: 0, 4: 1}
# An action built at run time, and the values its placeholder takes.
BUILT = {"event.{}": tuple(f"event.{kind}" for kind in get_args(EventKind))}


def _callee(node: ast.Call) -> str:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _action(node: ast.Call) -> ast.expr | None:
    name = _callee(node)
    index = AUDIT_METHOD.get(len(node.args)) if name == "audit" else WRITERS.get(name)
    return node.args[index] if index is not None and index < len(node.args) else None


def collected(path: Path) -> tuple[set[str], list[str]]:
    """The action codes `path` writes, and the actions it writes that cannot be read."""
    codes: set[str] = set()
    unread: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        action = _action(node) if isinstance(node, ast.Call) else None
        if isinstance(action, ast.Constant) and isinstance(action.value, str):
            codes.add(action.value)
        elif isinstance(action, ast.JoinedStr):
            shape = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{}" for v in action.values
            )
            if shape in BUILT:
                codes.update(BUILT[shape])
            else:
                unread.append(
                    f"{path}:{action.lineno}: f-string action {shape!r}: list it in BUILT"
                )
        elif action is not None and not isinstance(action, ast.Name | ast.Attribute | ast.Call):
            unread.append(f"{path}:{action.lineno}: write the action as a literal")
    return codes, unread


def source_actions() -> set[str]:
    codes: set[str] = set()
    unread: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        found, problems = collected(path)
        codes |= found
        unread += problems
    assert not unread, "\n".join(unread)
    return codes


def test_every_audit_action_in_the_source_has_a_label() -> None:
    codes = source_actions()
    assert {"login", "login.failed", "token.issue", "tool.call", "event.bot_added"} <= codes
    assert not codes - ACTIONS.keys(), f"add a label to ACTIONS: {sorted(codes - ACTIONS.keys())}"
    assert not ACTIONS.keys() - codes, f"no longer written: {sorted(ACTIONS.keys() - codes)}"


def test_the_collector_reads_every_kind_of_writer(tmp_path: Path) -> None:
    module = tmp_path / "pages.py"
    module.write_text(
        "async def f(self, call, who, store, action):\n"
        '    await self.audit.record(who.audit("user.rename", "bob"))\n'
        '    await self._back(call, "/admin/users", "user.lock", "bob")\n'
        '    store.audit("telegram", f"event.{kind}", "chat", 0.0)\n'
        '    AuditEntry(0.0, "cli", action, "", "local")\n'
        '    ToolAudit("web:1", "tool.call" if ok else "tool.fail", "x")\n'
        '    store.audit("x", f"job.{name}", "", 0.0)\n',
        encoding="utf-8",
    )
    codes, unread = collected(module)
    assert codes == {"user.rename", "user.lock", *BUILT["event.{}"]}
    assert [line.split(": ", 1)[1] for line in unread] == [
        "write the action as a literal",
        "f-string action 'job.{}': list it in BUILT",
    ]
