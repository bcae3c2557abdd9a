"""ruff as part of the test command (its rules are in pyproject.toml); mypy, which takes ten
seconds cold, runs beside the tests in .ci/run."""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "publisher", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr
