"""The test tree's own rules (issue 15): what tests share lives in tests/support, so no module
imports a test module or a conftest, and conftest files only declare fixtures and hooks."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FIXTURE_DECORATORS = {"pytest.fixture", "pytest_asyncio.fixture"}


def imported_modules(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything a module imports, `from a import b` as `a.b` too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def is_test_or_conftest(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and (parts[-1] == "conftest" or parts[-1].startswith("test_"))


def decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(target)


def not_a_fixture_or_hook(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
        decorators = {decorator_name(d) for d in statement.decorator_list}
        return not (decorators & FIXTURE_DECORATORS or statement.name.startswith("pytest_"))
    return isinstance(statement, ast.ClassDef)


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if is_test_or_conftest(module)
    ]
    assert offenders == [], "move what they share to tests/support:\n" + "\n".join(offenders)


def test_conftests_declare_only_fixtures_and_hooks() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{statement.lineno}"
        for path in sorted(TESTS.rglob("conftest.py"))
        for statement in ast.parse(path.read_text(encoding="utf-8")).body
        if not_a_fixture_or_hook(statement)
    ]
    assert offenders == [], "move these to tests/support:\n" + "\n".join(offenders)
