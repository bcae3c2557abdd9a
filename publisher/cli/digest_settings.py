"""`publisher digests`: the digests in effect, as a file to keep in git and to apply back, and
where they differ from config.toml."""

from __future__ import annotations

import os
from pathlib import Path

import click

from publisher.cli.app import App, cli, pass_app
from publisher.clock import utc_now as now
from publisher.config import find_config
from publisher.dates import counted
from publisher.jobs.digest_settings import apply_file, divergences, export_digests
from publisher.operators.audit import command_line


@cli.group()
def digests() -> None:
    """The digests in effect: export, apply, compare with config.toml."""


@digests.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: print).")
@pass_app
def export(app: App, output: Path | None) -> None:
    """Print the digests in effect as config.toml's [[digests]] tables.

    Example: publisher digests export -o digests.toml
    """
    text = export_digests(app.sessions, app.config)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, "utf-8")
    click.echo(f"wrote {counted(text.count('[[digests]]'), 'digest')} to {output}")


@digests.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def apply(app: App, file: Path) -> None:
    """Make the digests in effect those of FILE's [[digests]] (the ones it lacks are retired);
    every running scheduler follows within seconds. Applying the config file itself makes the
    digests follow it again.

    Example: publisher digests apply digests.toml
    """
    changes = apply_file(app.sessions, app.config, command_line(), file, now(),
                         config_path=find_config(app.config_path, os.environ))
    made = {action: sum(c.action == f"digest.{action}" for c in changes) for action in ("create", "change", "retire")}
    click.echo(f"applied {file}: {made['create']} created, {made['change']} changed, {made['retire']} retired")


@digests.command("diff")
@pass_app
def diff(app: App) -> None:
    """Where the digests in effect differ from config.toml (changed in the console, the API or
    with `digests apply`)."""
    lines = divergences(app.sessions, app.config)
    click.echo("\n".join(lines) if lines else "the digests in effect are config.toml's")
