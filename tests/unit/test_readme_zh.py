"""README.zh-CN.md keeps step with README.md: the same `ai-bot` commands and make targets in
the quick start and the command table, the same config keys in the example config."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = (ROOT / "README.md").read_text(encoding="utf-8")
CHINESE = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")


def section(text: str, *titles: str) -> str:
    """The text of the `## ` sections with these titles, joined."""
    parts = re.split(r"^## ", text, flags=re.M)
    return "\n".join(p for p in parts if p.split("\n", 1)[0].strip() in titles)


def commands(text: str) -> set[str]:
    """Each `ai-bot SUBCOMMAND` (and `make TARGET`) the text names."""
    found = set(re.findall(r"ai-bot ([a-z][a-z-]*)", text))
    targets = re.findall(r"(?:^|`)make ([a-z]+)", text, flags=re.M)  # code, not prose
    return found | {f"make {t}" for t in targets}


def config_keys(text: str) -> set[str]:
    """Every key path of the first YAML block: `models.breaker_cooldown`, `ui.language`…"""
    block = re.search(r"```yaml\n(.*?)```", text, flags=re.S)
    assert block, "no yaml block"
    keys: set[str] = set()

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{prefix}{key}"
                keys.add(path)
                if key != "providers":  # example provider names are the reader's choice
                    walk(value, path + ".")

    walk(yaml.safe_load(block.group(1)), "")
    return keys


def test_same_commands_in_quick_start_and_command_table() -> None:
    english = commands(section(ENGLISH, "Quick start", "Commands"))
    chinese = commands(section(CHINESE, "快速开始", "命令"))
    assert english, "README.md lost its quick start or command table"
    assert english == chinese, (
        f"only in README.md: {sorted(english - chinese)}; "
        f"only in README.zh-CN.md: {sorted(chinese - english)}"
    )


def test_same_config_keys_in_the_example() -> None:
    english = config_keys(section(ENGLISH, "Configuration"))
    chinese = config_keys(section(CHINESE, "配置"))
    assert english == chinese, (
        f"only in README.md: {sorted(english - chinese)}; "
        f"only in README.zh-CN.md: {sorted(chinese - english)}"
    )


def test_each_links_to_the_other() -> None:
    assert "README.zh-CN.md" in ENGLISH and "README.md" in CHINESE
