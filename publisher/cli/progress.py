"""A progress bar for long commands, on a terminal only."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """Advance it by n done; nothing at all when stdout is not a terminal (logs and pipes stay
    clean). `total` None: a count without an end."""
    if not sys.stdout.isatty():
        yield None
        return
    from rich.progress import Progress  # only a terminal pays for importing it

    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
