"""Feed serving benchmark: /feeds/cn/atom.xml under load, a full GET and a 304, measured with a
load generator that is not the bottleneck (`wrk`, else ApacheBench `ab -k`), beside baselines
run in the same session on the same machine:

- a bare ASGI app sending the very same response bytes (status, headers, body, captured from
  publisher's own answer) on the same uvicorn stack: the ceiling of that stack;
- nginx serving the same file, when installed: the reference.

    .venv/bin/python benchmarks/web.py [--seconds 5] [--rounds 3] [--clients 8]

Both uvicorn stacks are measured, h11 with asyncio and httptools with uvloop (what `publisher
serve` uses); each rate is the median of --rounds runs, the servers taking turns, and each ratio the
median of the rounds' ratios (of loads seconds apart: the machine's speed drifts over a run).
Target: publisher >= 0.8x the bare app on the same stack, for the full GET and for the 304;
and `publisher serve` itself, its access log on, >= 0.8x the bare app on its stack.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEED = "/feeds/cn/atom.xml"
STACKS = {"h11 + asyncio": ["--http", "h11", "--loop", "asyncio"],
          "httptools + uvloop": ["--http", "httptools", "--loop", "uvloop"]}
KEY = {"PUBLISHER_SECRET_KEY": "benchmark signing key, long enough to be accepted"}
BARE = '''\
import json
with open({responses!r}) as file:
    RESPONSES = {{tag: (status, [(k.encode(), v.encode()) for k, v in headers], body.encode("latin-1"))
                 for tag, (status, headers, body) in json.load(file).items()}}
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    asked = dict(scope["headers"]).get(b"if-none-match")
    status, headers, body = RESPONSES["304" if asked else "200"]
    await send({{"type": "http.response.start", "status": status, "headers": headers}})
    await send({{"type": "http.response.body", "body": body}})
'''
NGINX = '''\
daemon off; worker_processes 1; pid {folder}/nginx.pid; error_log {folder}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; client_body_temp_path {folder}; proxy_temp_path {folder}; fastcgi_temp_path {folder};
  uwsgi_temp_path {folder}; scgi_temp_path {folder};
  types {{ application/atom+xml xml; }}
  server {{ listen 127.0.0.1:{port}; location /feeds/ {{ alias {folder}/feeds/; etag on; }} }}
}}
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"a server did not start: {process.args}") from None
            time.sleep(0.1)


def prepare(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text((ROOT / "config.toml").read_text("utf-8").replace(
        'url = "sqlite:///publisher.db"', f'url = "sqlite:///{folder / "bench.db"}"', 1), "utf-8")
    subprocess.run([sys.executable, "-m", "publisher", "--config", str(config), "import",
                    str(ROOT / "publisher" / "data" / "ilo-china-mongolia-news.txt")],
                   check=True, env={**os.environ, **KEY}, capture_output=True)
    return config


def capture(port: int) -> dict[str, tuple[int, list[tuple[str, str]], str]]:
    """Publisher's own answers (200, and 304 to its ETag), for the bare app to send as they are."""
    answers = {}
    etag = ""
    for tag, headers in (("200", {}), ("304", {"If-None-Match": ""})):
        if etag:
            headers["If-None-Match"] = etag
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", FEED, headers=headers)
        response = connection.getresponse()
        body = response.read()
        etag = response.getheader("ETag") or ""
        kept = [(name.lower(), value) for name, value in response.getheaders() if name.lower() != "date"]
        answers[tag] = (response.status, kept, body.decode("latin-1"))
        connection.close()
    return answers


def load(port: int, seconds: float, clients: int, etag: str | None) -> float:
    """Requests per second over keep-alive connections. wrk first: ab cannot keep a connection
    alive across a 304 (it has no Content-Length), so with ab every 304 costs a connection."""
    url = f"http://127.0.0.1:{port}{FEED}"
    extra = ["-H", f"If-None-Match: {etag}"] if etag else []
    if shutil.which("wrk"):
        done = subprocess.run(["wrk", "-t", "1", "-c", str(clients), "-d", f"{seconds}s", *extra, url],
                              capture_output=True, text=True, check=True)
        found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
        assert found and "Non-2xx" not in done.stdout and "Socket errors" not in done.stdout, done.stdout
        return float(found.group(1))
    if shutil.which("ab"):
        done = subprocess.run(["ab", "-k", "-q", "-c", str(clients), "-t", str(seconds), "-n", "10000000",
                               *extra, url], capture_output=True, text=True, check=True)
        failed = re.search(r"Failed requests:\s+(\d+)", done.stdout)
        found = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
        assert found and failed and failed.group(1) == "0", done.stdout
        return float(found.group(1))
    raise SystemExit("install a load generator: apt-get install wrk (or apache2-utils for ab)")


class Servers:
    def __init__(self, folder: Path, config: Path) -> None:
        self.folder, self.config = folder, config
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], env: dict[str, str] | None = None, port: int | None = None) -> int:
        port = port or free_port()
        process = subprocess.Popen([part.replace("{port}", str(port)) for part in command],
                                   env={**os.environ, **KEY, **(env or {})}, cwd=self.folder,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        wait_for(port, process)
        return port

    def uvicorn(self, target: str, stack: list[str], app_dir: Path | None = None) -> int:
        # As `publisher serve` runs it (web/server.py): uvicorn's own access log off too. Left on
        # at the warning level, it wrote nothing but still made each request's client address and
        # quoted path for the line it then dropped (measured: the bare redirect 1.22x with it off).
        command = [sys.executable, "-m", "uvicorn", target, "--port", "{port}", "--log-level", "warning",
                   "--no-access-log", "--no-server-header", "--no-proxy-headers", *stack]
        if app_dir:
            command += ["--app-dir", str(app_dir)]
        return self.start(command, {"PUBLISHER_CONFIG": str(self.config)})

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def load_options(doc: str) -> argparse.Namespace:
    """The options of a benchmark under load: how long, how many rounds, how many connections."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    return parser.parse_args()


def main() -> None:
    args = load_options(__doc__)
    folder = Path(tempfile.mkdtemp(prefix="publisher-web-bench-"))
    servers = Servers(folder, prepare(folder))
    try:
        ours = servers.start([sys.executable, "-m", "publisher", "--config", str(servers.config), "serve",
                              "--port", "{port}"])
        answers = capture(ours)
        (folder / "responses.json").write_text(json.dumps(answers), "utf-8")
        (folder / "bare.py").write_text(BARE.format(responses=str(folder / "responses.json")), "utf-8")
        etag = dict(answers["200"][1])["etag"]
        ports = {}
        for stack, flags in STACKS.items():
            ports[f"bare, {stack}"] = servers.uvicorn("bare:app", flags, folder)
            ports[f"publisher, {stack}"] = servers.uvicorn("publisher.web.asgi:app", flags)
        ports["publisher serve"] = ours
        if shutil.which("nginx"):
            nginx_port = free_port()
            (folder / "nginx.conf").write_text(NGINX.format(folder=folder, port=nginx_port), "utf-8")
            servers.start(["nginx", "-c", str(folder / "nginx.conf"), "-e", str(folder / "nginx-error.log")],
                          port=nginx_port)
            ports["nginx (reference)"] = nginx_port
        figures: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            # Each kind's loads of every server back to back, the bare app just before publisher on
            # its stack: each round's ratios are of loads seconds apart (this machine's speed drifts).
            for kind, tag in (("GET", None), ("304", etag)):
                for name, port in ports.items():
                    figures.setdefault((name, kind), []).append(load(port, args.seconds, args.clients, tag))
    finally:
        servers.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report(figures, len(answers["200"][2]), args)


def report(figures: dict[tuple[str, str], list[float]], size: int, args: argparse.Namespace) -> None:
    rate = {key: statistics.median(values) for key, values in figures.items()}
    print(f"{FEED} ({size:,} bytes), {args.clients} keep-alive clients, median of {args.rounds} x "
          f"{args.seconds} s, requests per second")
    print(f"  {'':34} {'full GET':>10} {'304':>10}")
    for name in dict.fromkeys(name for name, _ in rate):
        print(f"  {name:34} {rate[(name, 'GET')]:>10,.0f} {rate[(name, '304')]:>10,.0f}")
    print("  the median of the rounds' ratios (each round's in brackets):")
    for stack in STACKS:
        _ratios(figures, f"publisher, {stack}", f"bare, {stack}", f"publisher / bare, {stack}")
    # `publisher serve` is the app on httptools + uvloop with its access log on (web.access_log).
    _ratios(figures, "publisher serve", "bare, httptools + uvloop",
            "publisher serve (access log on) / bare, httptools + uvloop")


def _ratios(figures: dict[tuple[str, str], list[float]], ours: str, bare: str, label: str) -> None:
    """Each round's rate over the bare app's in that round, for the full GET and the 304."""
    rounds = {kind: [mine / theirs for mine, theirs in zip(figures[(ours, kind)], figures[(bare, kind)], strict=True)]
              for kind in ("GET", "304")}
    median = {kind: statistics.median(values) for kind, values in rounds.items()}
    verdict = "met" if min(median.values()) >= 0.8 else "MISSED"
    each = {kind: ", ".join(f"{value:.2f}" for value in values) for kind, values in rounds.items()}
    print(f"  {label}: {median['GET']:.2f}x GET ({each['GET']}), {median['304']:.2f}x 304 ({each['304']}) "
          f"(target >= 0.8: {verdict})")


if __name__ == "__main__":
    main()
