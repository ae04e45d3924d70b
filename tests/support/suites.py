"""The suites of tests/ and the marker each test gets from its directory, so that a new test
cannot forget its marker and `-m unit` or `-m "not e2e"` selects by kind."""

from __future__ import annotations

from pathlib import Path

import pytest

# Directory under tests/ → what its tests are; the marker carries the directory's name.
SUITES = {
    "unit": "in-process tests of one part, with fakes on loopback",
    "integration": "the real gateway as a subprocess, on real sockets and stores",
    "e2e": "the web pages in headless Chromium",
    "fuzz": "Hypothesis against a running gateway",
    "faults": "outages and restarts of stores, platforms and models under load",
}


def suite_of(test_file: Path, tests_dir: Path) -> str:
    """The suite of a test file: the first directory under `tests_dir`. A test outside every
    suite is a usage error, so it cannot run unmarked."""
    parts = test_file.relative_to(tests_dir).parts
    if len(parts) < 2 or parts[0] not in SUITES:
        raise pytest.UsageError(
            f"{test_file}: tests live in one of tests/{{{','.join(SUITES)}}}/ (they are marked "
            "by directory)"
        )
    return parts[0]
