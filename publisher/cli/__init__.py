"""The `publisher` command: thin click commands, each calling one use case and printing one line."""

from publisher.cli import admin, bounces, digests, releases, running, subscribers  # noqa: F401  (they add their commands to the group)
from publisher.cli.app import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="publisher")
