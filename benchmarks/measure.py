"""What the benchmarks share: a child process timed from outside, with its own peak memory.

Peak memory is the child's VmHWM, written by a small wrapper when it exits: the high-water mark
of that process since its exec (wait4's ru_maxrss also counts the parent it was forked from,
which made a bare `python -c pass` look like 29 MB), plus the peak of the largest process the
child started and waited for (an import's helper).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

_MEASURED = """\
import atexit, os, resource, runpy, sys
def peak():
    own = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest of them
    sys.stderr.write(f'\\npeak-kB {own} {helpers}\\n')
    sys.stderr.flush()
atexit.register(peak)
leave = os._exit
def measured_exit(code):  # publisher's main() leaves by os._exit, past atexit
    peak()
    leave(code)
os._exit = measured_exit
sys.argv = sys.argv[1:]
if sys.argv[0] == 'publisher':
    from publisher.cli import main
    main()
elif sys.argv[0] != 'pass':
    sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))  # as `python script` does
    runpy.run_path(sys.argv[0], run_name='__main__')
"""


def run_child(args: list[str], env: dict[str, str] | None = None, stdin: bytes | None = None,
              cwd: str | None = None) -> tuple[float, float, str]:
    """(seconds, peak MB, stdout) of one child (its peak and its largest helper process's
    added: more than both held at any one moment, never less): `['publisher', ...]` runs the command line,
    `[script, ...]` a Python script, `['pass']` nothing (the interpreter's start-up alone)."""
    started = time.perf_counter()
    # Bytecode caches are written and read, as on any installation.
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-c", _MEASURED, *args], input=stdin or b"", capture_output=True,
                          env={**base, **(env or {})}, cwd=cwd, check=False)
    seconds = time.perf_counter() - started
    err = done.stderr.decode()
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{err[-2000:]}")
    own, helpers = err.rsplit("peak-kB ", 1)[1].split()[:2]
    return seconds, (int(own) + int(helpers)) / 1024, done.stdout.decode()
