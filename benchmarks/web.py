"""Feed serving benchmark: /feeds/cn/atom.xml under load, with and without If-None-Match.

    .venv/bin/python benchmarks/web.py [--seconds 10] [--clients 8]

Runs `publisher serve` (uvicorn) on 127.0.0.1 in a process of its own, then, from this
process, keeps `--clients` persistent connections busy for `--seconds` per mode (bounded to
30 s each). Reports requests per second and the 50th and 99th percentile latency, and the ratio
of conditional to full GETs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    config = folder / "config.toml"
    text = (ROOT / "config.toml").read_text("utf-8").replace(
        'url = "sqlite:///publisher.db"', f'url = "sqlite:///{folder / "bench.db"}"', 1)
    config.write_text(text, "utf-8")
    env = {**os.environ, "PUBLISHER_SECRET_KEY": "benchmark signing key, long enough to be accepted"}
    subprocess.run([sys.executable, "-m", "publisher", "--config", str(config), "import",
                    str(ROOT / "publisher" / "data" / "ilo-china-mongolia-news.txt")],
                   check=True, env=env, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "publisher", "--config", str(config), "serve",
                               "--port", str(port)], env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)


def load(port: int, seconds: float, clients: int, headers: dict[str, str]) -> tuple[int, list[float], set[int]]:
    latencies: list[float] = []
    statuses: set[int] = set()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            connection.request("GET", "/feeds/cn/atom.xml", headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            statuses.add(response.status)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    seconds = min(args.seconds, 30.0)
    port = free_port()
    server = start_server(Path(tempfile.mkdtemp(prefix="publisher-web-bench-")), port)
    try:
        probe = http.client.HTTPConnection("127.0.0.1", port)
        probe.request("GET", "/feeds/cn/atom.xml")
        response = probe.getresponse()
        etag, size = response.getheader("ETag"), len(response.read())
        results = {}
        for name, headers in (("full GET", {}), ("If-None-Match", {"If-None-Match": etag or ""})):
            count, latencies, statuses = load(port, seconds, args.clients, headers)
            results[name] = (count / seconds, latencies, statuses)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"/feeds/cn/atom.xml ({size} bytes), {args.clients} clients, {seconds:.0f} s each")
    for name, (rate, latencies, statuses) in results.items():
        cuts = statistics.quantiles(latencies, n=100)
        print(f"  {name:14} {rate:8.0f} req/s   p50 {cuts[49] * 1000:6.2f} ms   "
              f"p99 {cuts[98] * 1000:6.2f} ms   status {sorted(statuses)}")
    print(f"  conditional / full: {results['If-None-Match'][0] / results['full GET'][0]:.2f}x")


if __name__ == "__main__":
    main()
