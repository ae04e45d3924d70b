"""Runs `ai-bot` with every module's import timed in thread CPU time, for `bench/import_cpu.py`.

    <venv>/bin/python bench/import_probe.py <imports.json> run -c config.yaml

is `ai-bot run -c config.yaml` with a meta-path finder in front of the others that wraps each
module's loader: the CPU time of executing the module (compiled bytecode loaded, its body run,
the modules it imports in turn) and, minus those, its own. `-X importtime` measures the same in
wall time, which on a shared box mostly measures the scheduler. When the process exits (SIGTERM
included: `ai-bot run` turns it into a clean exit) the modules are written to `imports.json` in
the order they finished, each as [name, depth, own µs, total µs]. Extension modules count with
the module that imports them. Only the standard library is imported here, so the probe adds no
module of its own to what it measures.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

_done: list[tuple[str, int, int, int]] = []
_depth = [0]
_children = [0]  # CPU ns of the modules the one being executed imported


class _TimedLoader(Loader):
    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, …
        return getattr(self._loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        depth, outer = _depth[0], _children[0]
        _depth[0], _children[0] = depth + 1, 0
        began = time.thread_time_ns()
        try:
            self._loader.exec_module(module)
        finally:
            total = time.thread_time_ns() - began
            own = total - _children[0]
            _depth[0], _children[0] = depth, outer + total
            _done.append((module.__name__, depth, own // 1000, total // 1000))


class _TimingFinder(MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _TimedLoader(spec.loader)
                return spec
        return None


def _write(path: Path) -> None:
    path.write_text(json.dumps(_done))


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["ai-bot", *sys.argv[2:]]
    del sys.path[0]  # this script's directory: bench/ must not shadow anything
    sys.meta_path.insert(0, _TimingFinder())
    atexit.register(_write, out)
    from aibot.cli.main import main as ai_bot

    ai_bot()


if __name__ == "__main__":
    main()
