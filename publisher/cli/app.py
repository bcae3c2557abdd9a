"""What every command shares: the group, its options, the config loaded once, error handling."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from publisher.errors import PublisherError
from publisher.logs import FORMATS, setup_logging

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from publisher.config import Config

# Every command (or group) of `publisher`: the module of publisher/cli that defines it, and its
# help line. A command's module is imported only when it runs, so `publisher --help` and each
# command pay only for what they use; tests/test_cli.py checks each line is the command's own.
COMMANDS: Mapping[str, tuple[str, str]] = {
    "bounces": ("bounces", "Bounces, complaints and mailed unsubscribes."),
    "config": ("admin", "Inspect the configuration."),
    "db": ("admin", "Manage the database schema."),
    "digest": ("digests", "Send and preview digest emails."),
    "digests": ("digest_settings", "The digests in effect: export, apply, compare with config.toml."),
    "editions": ("digests", "Manage sent editions."),
    "feeds": ("releases", "Build the feeds."),
    "import": ("releases", "Import releases from files or http(s) URLs, all in one transaction."),
    "operators": ("operators", "Manage the people who run the console and the API."),
    "releases": ("releases", "Look at stored releases."),
    "report": ("digests", "How edition NUMBER of digest NAME went (default: its newest): sent, failed, "
                          "bounced, complained, unsubscribed since; and what readers clicked (per link, "
                          "language and choice of countries, nobody by name)."),
    "run": ("running", "The main job, until SIGTERM or Ctrl-C: import the configured sources, build the "
                       "feeds, send any digest missed while it was down, then run every schedule of the "
                       "config."),
    "schedule": ("running", "Print every job with its next three fire times (in its zone and in UTC), "
                            "when it last ran, the last edition of each digest and what its next would hold."),
    "serve": ("serving", "Serve the feeds, release pages and subscription pages over HTTP (uvicorn)."),
    "status": ("sending", "Per edition, how many deliveries are queued, being sent, sent and failed; and "
                          "the workers and schedulers seen in the last two minutes."),
    "subscribers": ("subscribers", "Manage the people who receive digests."),
    "worker": ("sending", "Send queued deliveries of every unfinished edition, until SIGTERM or Ctrl-C."),
}


class App:
    """The config, loaded once, and the store, opened once (on first use)."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        from publisher.config import load_config

        return load_config(self.config_path)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        from publisher.store.db import open_store

        return open_store(self.config)

    def close(self) -> None:
        """Close the store's connections (when it was opened): the command is done."""
        if "sessions" in self.__dict__:
            from publisher.store.db import engine_of

            engine_of(self.sessions).dispose()


class PublisherGroup(click.Group):
    """Loads each command's module when the command is asked for (COMMANDS), and turns the
    project's errors into a message on stderr and their exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"publisher.cli.{COMMANDS[cmd_name][0]}")  # it adds its commands
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, from COMMANDS' help lines: listing the commands imports none of them."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        found = super().resolve_command(ctx, args)
        if not gc.isenabled():  # turned off for the start-up (publisher/cli/__init__.py main)
            gc.freeze()
            gc.enable()
        return found

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
@click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
              envvar="PUBLISHER_LOG_FORMAT", show_envvar=True,
              help="Log lines as text, or as one JSON object each (for a log collector).")
@click.version_option(package_name="publisher")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool, log_format: str) -> None:
    """Press releases to per-country feeds and subscriber digests."""
    setup_logging(verbose, log_format)
    ctx.obj = App(config_path)
    ctx.call_on_close(ctx.obj.close)


pass_app = click.make_pass_decorator(App)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """On a terminal as wide as it is; in a pipe or a log, wide enough not to wrap titles.
    Every cell is plain text: a title holding `[bold]` is shown as written, not as markup."""
    from rich.console import Console  # only the commands that print a table pay for it
    from rich.table import Table
    from rich.text import Text

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
