"""The `publisher` command: thin click commands, each calling one use case and printing one line."""

from publisher.cli.app import cli  # each command's module is imported when it is used (app.COMMANDS)

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="publisher")
