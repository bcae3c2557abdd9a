"""The web app served: `publisher serve`, and in a thread of `publisher run`. A module of its
own, so that `serve` loads neither the scheduler nor the imports (APScheduler alone reads every
installed package's entry points as it loads)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import click

from publisher.cli.app import App, cli, pass_app
from publisher.run.reachable import warn_unless_served
from publisher.web.server import served_app, server_options, settle_heap

log = logging.getLogger("publisher")


def start_web(app: App, stack: contextlib.ExitStack) -> Any:
    """The web app in a thread of this process (web.enabled): it stops with the scheduler, and
    its writing process when `stack` closes."""
    import socket
    import threading

    import uvicorn

    host, port = app.config.web.host, app.config.web.port
    try:  # bound here, before anything runs: a taken port stops `run`, not just its web thread
        listening = socket.create_server((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot serve http://{host}:{port}/ ({exc.strerror or exc}): is another "
                                   "process using that port? (web.host, web.port)") from None
    served = stack.enter_context(served_app(app.config, app.sessions))
    settle_heap()
    server = uvicorn.Server(uvicorn.Config(served, host=host, port=port, **server_options(app.config.web)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, name="web", daemon=True)
    thread.start()
    log.info("serving http://%s:%d/", host, port)
    return server, thread


@cli.command()
@click.option("--host", help="Address to listen on. Default: web.host (127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Default: web.port (8080).")
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """Serve the feeds, release pages and subscription pages over HTTP (uvicorn).

    Example: publisher serve --host 127.0.0.1 --port 8080
    """
    import uvicorn

    with served_app(app.config, app.sessions) as web:
        settle_heap()
        warn_unless_served(app.config.site.base_url)
        uvicorn.run(web, host=host or app.config.web.host, port=port or app.config.web.port,
                    **server_options(app.config.web))
