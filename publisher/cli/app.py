"""What every command shares: the group, its options, the config loaded once, error handling."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session, sessionmaker

from publisher.config import Config, load_config
from publisher.errors import PublisherError
from publisher.store.db import open_store


class App:
    """The config, loaded once, and the store, opened once (on first use)."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return open_store(self.config)


class PublisherGroup(click.Group):
    """Turns the project's errors into a message on stderr and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PublisherError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=PublisherGroup)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              envvar="PUBLISHER_CONFIG", show_envvar=True,
              help="Config file. Default: ./config.toml, else the embedded defaults.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.version_option(package_name="publisher")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Press releases to per-country feeds and subscriber digests."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        for chatty in ("alembic", "apscheduler"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    ctx.obj = App(config_path)


pass_app = click.make_pass_decorator(App)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """On a terminal as wide as it is; in a pipe or a log, wide enough not to wrap titles.
    Every cell is plain text: a title holding `[bold]` is shown as written, not as markup."""
    table = Table(*headers)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def favour_senders() -> None:
    """Let a thread waiting on the network (a commit, an SMTP reply) have the interpreter back
    within 0.5 ms instead of 5: the senders mostly wait, and a result commit that waits on a
    busy thread holds up every connection (measured: +15% messages per second)."""
    sys.setswitchinterval(0.0005)


def print_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)
