"""Command-line start-up: `publisher --help` and `publisher releases list`, beside
`python -c pass` measured in the same run (the interpreter's own start-up).

    .venv/bin/python benchmarks/cli.py [--runs 15]

The three commands run in turn (A B C A B C ...), so a machine that drifts moves all three;
each figure is the median wall time of --runs runs after one warm-up, with its peak memory.
Bytecode caches are written as on any installation (PYTHONDONTWRITEBYTECODE is unset for the
children). `releases list` reads a store holding the bundled listing's releases.
Targets: `--help` <= 0.25 s, `releases list` <= 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PUBLISHER = [sys.executable, "-m", "publisher"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "publisher --help": [*PUBLISHER, "--help"],
    "publisher releases list": [*PUBLISHER, "releases", "list", "--limit", "5"],
}
TARGETS = {"publisher --help": 0.25, "publisher releases list": 0.5}


def timed(command: list[str], folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak MB) of one run, its output thrown away as a pipe would take it."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-1000:]}")  # type: ignore[union-attr]
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="publisher-bench-cli-"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PUBLISHER_CONFIG")}
    try:
        bundled = Path(__file__).resolve().parent.parent / "publisher" / "data" / "ilo-china-mongolia-news.txt"
        subprocess.run([*PUBLISHER, "import", str(bundled)], cwd=folder, env=env, check=True,
                       capture_output=True)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
        for run in range(args.runs + 1):
            for name, command in COMMANDS.items():
                figure = timed(command, folder, env)
                if run:  # the first round warms the caches
                    figures[name].append(figure)
        base = statistics.median(seconds for seconds, _ in figures["python -c pass"])
        print(f"command line start-up, median of {args.runs} runs (peak memory includes the parent "
              f"this benchmark forks from, {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
        for name, runs in figures.items():
            seconds = statistics.median(s for s, _ in runs)
            target = TARGETS.get(name)
            verdict = f"  target <= {target:.2f} s: {'met' if seconds <= target else 'MISSED'}" if target else ""
            print(f"  {name:<26} {seconds:6.3f} s  {seconds / base:5.1f}x python -c pass  "
                  f"{max(p for _, p in runs):5.1f} MB{verdict}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
