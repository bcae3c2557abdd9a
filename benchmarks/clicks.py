"""Counted links benchmark: a digest's /r/ link under load (`wrk`, else ApacheBench), against a bare
ASGI app answering the very same redirect on the same uvicorn stack (httptools + uvloop), and
what the store recorded:

- redirects per second, `publisher serve` (access log on) / the bare app, each round's two loads
  back to back, the median of the rounds' ratios: target >= 0.8x. Each server has answered
  the link before (`warm`): what is measured is a running server, not its start;
- clicks recorded / clicks sent under that load, the server then stopped with SIGTERM: target 100%;
- the same load ended by `kill -9`: the clicks lost, in seconds of that load, counted once the
  server's writing process has written what it was handed (at most about 0.2 s, the interval
  between hand-overs);
- where the time goes: CPU per redirect of each server process and of `publisher serve`'s
  writing process, and how busy each server was (the load generator shares the cores);
- for reference, the bare app checking each link's MAC as publisher does (`LinkSigner.signed`)
  before its redirect, loaded just before the bare app each round: what any server that refuses
  a changed link pays on this stack.

    .venv/bin/python benchmarks/clicks.py [--seconds 5] [--rounds 3] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from web import KEY, ROOT, Servers, load_options, prepare

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
BARE = '''\
LOCATION = {location!r}.encode()
HEADERS = [(b"location", LOCATION), (b"content-length", b"0"), (b"cache-control", b"no-store"),
           (b"referrer-policy", b"no-referrer"), (b"x-robots-tag", b"noindex")]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 302, "headers": HEADERS}})
    await send({{"type": "http.response.body", "body": b""}})
'''
_REDIRECT = '    await send({{"type": "http.response.start", "status": 302, "headers": HEADERS}})'
assert BARE.count(_REDIRECT) == 1  # the bare app's redirect, which the checking app guards
CHECKED = '''\
import os
from pathlib import Path
from publisher.clicks.links import LinkSigner
from publisher.config import load_config
from publisher.subscribers.keys import signing_key
SIGNER = LinkSigner(signing_key(load_config(Path(os.environ["PUBLISHER_CONFIG"])).secrets))
REFUSED = [(b"content-length", b"0")]
''' + BARE.replace(_REDIRECT, '''    if SIGNER.signed(scope["path"][3:]) is None:
        await send({{"type": "http.response.start", "status": 400, "headers": REFUSED}})
    else:
    ''' + _REDIRECT)


def mailed_link(folder: Path, config: Path) -> str:
    """A reader's first counted link, from the digest mailed to the outbox."""
    env = {**os.environ, **KEY}
    run = [sys.executable, "-m", "publisher", "--config", str(config)]
    subprocess.run([*run, "subscribers", "add", "reader@example.org", "--countries", "CN"],
                   check=True, env=env, cwd=folder, capture_output=True)
    text = config.read_text("utf-8").replace("[[digests]]\n", '[[digests]]\nfirst_edition_window = "3650d"\n')
    config.write_text(text, "utf-8")
    subprocess.run([*run, "digest", "send", "china-weekly"], check=True, env=env, cwd=folder, capture_output=True)
    [mail] = (folder / "outbox" / "new").iterdir()
    body = next(message_from_bytes(mail.read_bytes(), policy=default).iter_parts()).get_content()
    return re.findall(r"http://\S+/r/\S+", body)[0].replace("http://127.0.0.1:8080", "")


def load(port: int, path: str, seconds: float, clients: int) -> tuple[float, int]:
    """Requests per second and requests completed, over keep-alive connections. wrk first: ab
    speaks HTTP/1.0 and keeps no connection alive across a redirect (a connection per click)."""
    url = f"http://127.0.0.1:{port}{path}"
    if shutil.which("wrk"):
        done = subprocess.run(["wrk", "-t", "1", "-c", str(clients), "-d", f"{seconds}s", "-H",
                               f"User-Agent: {BROWSER}", url], capture_output=True, text=True, check=True)
        rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
        complete = re.search(r"(\d+) requests in", done.stdout)
        assert rate and complete and "Socket errors" not in done.stdout, done.stdout
        return float(rate.group(1)), int(complete.group(1))
    done = subprocess.run(["ab", "-k", "-q", "-c", str(clients), "-t", str(seconds), "-n", "10000000",
                           "-H", f"User-Agent: {BROWSER}", url],
                          capture_output=True, text=True, check=True)
    failed = re.search(r"Failed requests:\s+(\d+)", done.stdout)
    rate = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
    complete = re.search(r"Complete requests:\s+(\d+)", done.stdout)
    assert rate and complete and failed and failed.group(1) == "0", done.stdout
    return float(rate.group(1)), int(complete.group(1))


def warm(port: int, path: str) -> None:
    """A server as it runs for days, not one just started: a few of the link's redirects, then time
    for its writing process to have loaded the store's libraries and written those clicks
    (web/scribe.py loads them with the first click: half a second of CPU that would otherwise fall
    inside the measured load, and be counted as the redirects' cost)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(20):
        connection.request("GET", path, headers={"User-Agent": BROWSER})
        connection.getresponse().read()
    connection.close()
    time.sleep(1.5)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (Linux: /proc)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Measured:
    """Each load's rate, with the CPU its server (and a writing process) used per request."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.cpu: dict[str, list[float]] = {}  # process: microseconds a request, each round
        self.busy: list[float] = []  # the server's CPU / the seconds the load took

    def load(self, port: int, path: str, args: argparse.Namespace, processes: dict[str, list[int]]) -> int:
        before, started = {name: cpu_seconds(pids) for name, pids in processes.items()}, time.perf_counter()
        rate, sent = load(port, path, args.seconds, args.clients)
        seconds = time.perf_counter() - started
        self.rates.append(rate)
        used = {"server": cpu_seconds(processes["server"]) - before["server"]}
        self.busy.append(used["server"] / seconds)
        if len(processes) > 1:
            time.sleep(1.2)  # a writing process writes the clicks every second: this load's written
            used |= {name: cpu_seconds(pids) - before[name] for name, pids in processes.items() if name != "server"}
        for name, value in used.items():
            self.cpu.setdefault(name, []).append(value / sent * 1e6)
        return sent


def writers_of(process: subprocess.Popen[bytes]) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]


def recorded(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM link_clicks").fetchone()[0])


def serve(servers: Servers, path: str) -> tuple[int, subprocess.Popen[bytes]]:
    port = servers.start([sys.executable, "-m", "publisher", "--config", str(servers.config), "serve",
                          "--port", "{port}"])
    warm(port, path)
    return port, servers.processes[-1]


def stop(process: subprocess.Popen[bytes], how: int) -> None:
    """Stopped (or killed), and its writing process (web/offload.py) ended after it: what the
    server had handed it is written."""
    writers = writers_of(process)
    process.send_signal(how)
    process.wait(timeout=30)
    deadline = time.monotonic() + 60
    while any(_running(pid) for pid in writers) and time.monotonic() < deadline:
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:  # gone, or dead and not yet reaped (Z)
        return " Z " not in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False


def main() -> None:
    args = load_options(__doc__)
    if not shutil.which("wrk") and not shutil.which("ab"):
        raise SystemExit("install a load generator: apt-get install wrk (or apache2-utils for ab)")
    folder = Path(tempfile.mkdtemp(prefix="publisher-clicks-bench-"))
    servers = Servers(folder, prepare(folder))
    database = folder / "bench.db"
    measured = {name: Measured() for name in ("bare", "publisher serve", "access log off", "bare, checking")}
    kept: list[tuple[int, int]] = []  # (sent, recorded) after SIGTERM
    killed: list[tuple[int, int, float]] = []  # (sent, recorded, rate) after kill -9
    try:
        path = mailed_link(folder, servers.config)
        ours, process = serve(servers, path)
        connection = http.client.HTTPConnection("127.0.0.1", ours)
        connection.request("GET", path, headers={"User-Agent": BROWSER})
        location = connection.getresponse().getheader("Location") or ""
        connection.close()
        (folder / "bare.py").write_text(BARE.format(location=location), "utf-8")
        bare = servers.uvicorn("bare:app", ["--http", "httptools", "--loop", "uvloop"], folder)
        bare_pid = servers.processes[-1].pid
        warm(bare, path)
        (folder / "checked.py").write_text(CHECKED.format(location=location), "utf-8")
        checked = servers.uvicorn("checked:app", ["--http", "httptools", "--loop", "uvloop"], folder)
        checked_pid = servers.processes[-1].pid
        warm(checked, path)
        quiet = folder / "quiet.toml"  # the same, without the access log: what the log costs
        quiet.write_text(servers.config.read_text("utf-8").replace("\n[web]\n", "\n[web]\naccess_log = false\n"),
                         "utf-8")
        unlogged = servers.start([sys.executable, "-m", "publisher", "--config", str(quiet), "serve",
                                  "--port", "{port}"])
        quiet_server = servers.processes[-1]
        warm(unlogged, path)
        for _ in range(args.rounds):
            # The bare app and ours back to back: each round's ratio is of two loads a few seconds
            # apart, as this machine's speed drifts over a run.
            measured["bare, checking"].load(checked, path, args, {"server": [checked_pid]})
            measured["bare"].load(bare, path, args, {"server": [bare_pid]})
            before = recorded(database)
            sent = measured["publisher serve"].load(ours, path, args, {"server": [process.pid],
                                                                       "writing process": writers_of(process)})
            stop(process, signal.SIGTERM)
            kept.append((sent, recorded(database) - before))
            measured["access log off"].load(unlogged, path, args, {"server": [quiet_server.pid],
                                                                   "writing process": writers_of(quiet_server)})
            ours, process = serve(servers, path)  # (the quiet one's clicks are written by now)
        before = recorded(database)
        rate, sent = load(ours, path, args.seconds, args.clients)
        stop(process, signal.SIGKILL)
        killed.append((sent, recorded(database) - before, rate))
    finally:
        servers.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report(measured, kept, killed, args)


def report(measured: dict[str, Measured], kept: list[tuple[int, int]], killed: list[tuple[int, int, float]],
           args: argparse.Namespace) -> None:
    median = {name: statistics.median(figures.rates) for name, figures in measured.items()}
    print(f"a counted link (/r/...), {args.clients} keep-alive clients, median of {args.rounds} x "
          f"{args.seconds} s, redirects per second; CPU per redirect")
    for name, figures in measured.items():
        cpu = ", ".join(f"{process} {statistics.median(values):.1f} us" for process, values in figures.cpu.items())
        print(f"  {name:18} {median[name]:>10,.0f}   {cpu}; the server {statistics.median(figures.busy):.0%} busy")
    ratios = [ours / bare for ours, bare in zip(measured["publisher serve"].rates, measured["bare"].rates, strict=True)]
    ratio = statistics.median(ratios)
    print(f"  publisher serve / bare, httptools + uvloop, median of the rounds' ratios: {ratio:.2f}x "
          f"({', '.join(f'{each:.2f}' for each in ratios)}; target >= 0.8: {'met' if ratio >= 0.8 else 'MISSED'})")
    checking = [checked / bare for checked, bare in zip(measured["bare, checking"].rates, measured["bare"].rates,
                                                         strict=True)]
    print(f"  for reference, the bare app checking each link's MAC / bare, the rounds' median: "
          f"{statistics.median(checking):.2f}x ({', '.join(f'{each:.2f}' for each in checking)})")
    sent, stored = sum(s for s, _ in kept), sum(r for _, r in kept)
    # A few more than the load generator counted: the answers in flight when it stopped (at most
    # one per connection a round), recorded by the server but not counted by the client.
    whole = sent <= stored <= sent + args.clients * args.rounds
    print(f"  clicks recorded / sent, stopped by SIGTERM: {stored:,} / {sent:,} = {stored / sent:.2%} "
          f"(target 100%: {'met' if whole else 'MISSED'})")
    for sent, stored, rate in killed:
        lost = sent - stored
        print(f"  kill -9 at the end of the load: {lost:,} of {sent:,} clicks lost, {lost / rate:.2f} s of it "
              f"(target <= ~1 s: {'met' if lost / rate <= 1.2 else 'MISSED'})")
    print(json.dumps({"ratio": round(ratio, 3), "recorded": stored, "sent": sent}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
