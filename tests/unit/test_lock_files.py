"""The lock files pin the dependency set pyproject.toml declares (`make lock` writes them).

Every declared dependency — runtime in `requirements.lock`, runtime and test tools in
`requirements-test.lock` — is pinned there exactly once, to a version inside the declared range;
a dependency added to pyproject.toml without `make lock` fails here, so the audit (`make audit`,
run by CI against the lock) always scans what is really installed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SELF = canonicalize_name(PROJECT["name"])


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    """Declared requirements, with the project's own extras (`ai-bot[feishu-ws]`) expanded."""
    wanted = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        for line in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == SELF:
                wanted += declared_extras(requirement.extras)
            else:
                wanted.append(requirement)
    return wanted


def declared_extras(extras: set[str]) -> list[Requirement]:
    return [Requirement(r) for e in extras for r in PROJECT["optional-dependencies"][e]]


def pins(lock: str) -> dict[str, list[Version]]:
    """`name==version` lines of a lock (a universal lock may pin a name once per platform)."""
    found: dict[str, list[Version]] = {}
    for line in (REPO / lock).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found.setdefault(canonicalize_name(name.split("[")[0]), []).append(Version(version))
    return found


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ()), ("requirements-test.lock", ("test",))]
)
def test_every_declared_dependency_is_pinned_inside_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pinned = pins(lock)
    problems = []
    for requirement in declared(extras):
        name = canonicalize_name(requirement.name)
        versions = pinned.get(name)
        if not versions:
            problems.append(f"{requirement.name} is declared but not in {lock}")
        elif not all(requirement.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{lock} pins {name} {versions}, outside {requirement.specifier}")
    assert not problems, "\n".join(problems) + "\nrun `make lock` (see README, Development)"


def test_the_runtime_lock_holds_no_test_tool() -> None:
    runtime = pins("requirements.lock")
    for name in ("pytest", "hypothesis", "mypy", "pip-audit"):
        assert name not in runtime, name


def test_the_runtime_lock_holds_no_scoring_stack() -> None:
    """numpy (~73 MB installed) and sacrebleu serve `ai-bot eval` only: the `eval` extra, not
    what `make run` installs (issue 18, item 6)."""
    runtime = pins("requirements.lock")
    for name in ("numpy", "sacrebleu"):
        assert name not in runtime, name
    assert {"numpy", "sacrebleu"} <= set(pins("requirements-test.lock"))
