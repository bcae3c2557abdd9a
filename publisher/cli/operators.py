"""The people who run the console (/admin) and the API: add, list, remove; API tokens."""

from __future__ import annotations

import sys

import click

from publisher.cli.app import App, cli, pass_app, print_table
from publisher.clock import utc_now as now
from publisher.errors import InvalidValue
from publisher.jobs import operators as changes
from publisher.operators.accounts import all_operators
from publisher.operators.audit import command_line
from publisher.operators.tokens import SCOPES, tokens_of


@cli.group()
def operators() -> None:
    """Manage the people who run the console and the API."""


def _password() -> str:
    """Prompted twice on a terminal; else the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@operators.command("add")
@click.argument("email")
@pass_app
def operators_add(app: App, email: str) -> None:
    """Add an operator; the password is prompted for (or read from stdin's first line).

    Example: publisher operators add press@example.org
    """
    try:
        operator = changes.add(app.sessions, command_line(), email, _password(), now())
    except InvalidValue as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"added operator {operator.email}")


@operators.command("list")
@pass_app
def operators_list(app: App) -> None:
    """Every operator, with their API tokens."""
    with app.sessions() as session:
        rows = []
        for operator in all_operators(session):
            tokens = tokens_of(session, operator)
            live = [f"#{token.id} {token.label} ({token.scopes})" for token in tokens if token.revoked is None]
            rows.append([operator.email, operator.created.strftime("%Y-%m-%d %H:%M"), ", ".join(live) or "-"])
    print_table(["operator", "added (UTC)", "API tokens"], rows)


@operators.command("remove")
@click.argument("email")
@pass_app
def operators_remove(app: App, email: str) -> None:
    """Remove an operator: their sessions and API tokens stop working at once."""
    operator = changes.remove(app.sessions, command_line(), email, now())
    click.echo(f"removed operator {operator.email}")


@operators.command("token")
@click.argument("email")
@click.option("--label", default="api", show_default=True, help="What the token is for.")
@click.option("--scope", "scopes", multiple=True, default=("read",), show_default=True,
              type=click.Choice(list(SCOPES)),
              help="What it may do (repeatable): " + "; ".join(f"{name}: {what}" for name, what in SCOPES.items()))
@pass_app
def operators_token(app: App, email: str, label: str, scopes: tuple[str, ...]) -> None:
    """Make an API token for EMAIL and print it (it is not shown again).

    Use it as "Authorization: Bearer TOKEN" on /api/v1. A content system posting releases
    needs --scope releases; only a token with --scope subscribers sees readers' addresses.
    """
    row, token, owner = changes.new_token(app.sessions, command_line(), email, label, scopes, now())
    click.echo(f"API token #{row.id} for {owner} ({row.scopes}): {token}")


@operators.command("revoke")
@click.argument("token_id", type=int)
@pass_app
def operators_revoke(app: App, token_id: int) -> None:
    """Revoke API token TOKEN_ID (the number `operators list` shows): it stops working at once."""
    changes.revoke(app.sessions, command_line(), token_id, now())
    click.echo(f"revoked API token #{token_id}")
