"""Digest sending benchmark: one edition through a loopback SMTP sink.

    .venv/bin/python benchmarks/digest.py [--subscribers 10000] [--memory 10000,100000]
                                          [--connections 4]

In the same run it measures the sink's ceiling: plain smtplib sending one pre-built message
over the same number of persistent connections. It reports messages per second both ways and
their ratio (target >= 0.9), CPU time per recipient, and the sender's peak memory for each size
in --memory (target: flat, under 200 MB). Each side runs in a process of its own, so CPU and
peak memory are that process's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = "bundled:ilo-china-mongolia-news.txt"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink() -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(HERE / "smtp_sink.py"), str(port)],
                            stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
    return sink, port


def write_config(folder: Path, port: int, connections: int) -> Path:
    path = folder / "config.toml"
    path.write_text(f"""
[site]
name = "Bench office"
base_url = "https://bench.example.org"
timezone = "Asia/Shanghai"
[database]
url = "sqlite:///{folder / 'bench.db'}"
[[countries]]
code = "CN"
name = "China"
timezone = "Asia/Shanghai"
keywords = ["China"]
[[countries]]
code = "MN"
name = "Mongolia"
timezone = "Asia/Ulaanbaatar"
keywords = ["Mongolia"]
[tagging]
default_countries = ["CN"]
[feeds]
dir = "{folder / 'feeds'}"
[[digests]]
name = "bench"
countries = ["CN", "MN"]
cron = "0 9 * * MON"
timezone = "Asia/Shanghai"
first_edition_window = "3650d"  # the seed releases date from 2021-2022
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
[mail]
sender = "Bench office <news@bench.example.org>"
""", "utf-8")
    return path


def prepare(folder: Path, port: int, connections: int, subscribers: int) -> Path:
    """A store with the seed releases and `subscribers` confirmed subscribers (of CN, MN, or
    both: each reader's variant)."""
    path = write_config(folder, port, connections)
    fill_store(path, subscribers)
    return path


def fill_store(config_path: Path, subscribers: int) -> None:
    """The seed releases and `subscribers` confirmed subscribers, a third each of CN, MN and
    both, into the store the config names."""
    from sqlalchemy import insert

    from publisher.config import load_config
    from publisher.jobs.imports import ImportRequest, import_files
    from publisher.store.db import open_store
    from publisher.store.models import Subscriber, SubscriberCountry

    config = load_config(config_path, environ={})
    sessions = open_store(config)
    now = datetime.now(UTC)
    import_files(sessions, config, [ImportRequest(SEED)], now)
    with sessions.begin() as session:
        session.execute(insert(Subscriber), [
            {"id": i, "email": f"reader{i}@example.org", "email_key": f"reader{i}@example.org",
             "status": "confirmed", "status_since": now, "created": now}
            for i in range(1, subscribers + 1)])
        choices = (("CN",), ("MN",), ("CN", "MN"))
        session.execute(insert(SubscriberCountry), [
            {"subscriber_id": i, "country_code": code}
            for i in range(1, subscribers + 1) for code in choices[i % 3]])


def child_ours(config_path: str) -> dict[str, float]:
    from sqlalchemy import func, select

    from publisher.config import load_config
    from publisher.jobs.digests import send_digest
    from publisher.store.db import open_store
    from publisher.store.models import EditionVariant

    config = load_config(Path(config_path), environ={})
    sessions = open_store(config)
    # Loaded before the clock starts, as the ceiling's smtplib is: both sides time sending, not
    # importing. (The renderer loads premailer on first use: ~0.25 s once per process, which a
    # timed send used to include.)
    import premailer  # noqa: F401

    started, cpu = time.perf_counter(), time.process_time()
    totals = send_digest(sessions, config, "bench", now=datetime.now(UTC))
    assert totals is not None and totals.failed == 0
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with sessions() as session:
        variants = session.scalar(select(func.count()).select_from(EditionVariant)) or 0
    return {"seconds": seconds, "cpu": cpu, "sent": totals.sent, "peak_mb": _peak_mb(),
            "variants": variants}


def child_baseline(port: int, count: int, connections: int, message_file: str) -> dict[str, float]:
    message = Path(message_file).read_bytes()
    shares = [count // connections + (1 if i < count % connections else 0)
              for i in range(connections)]

    def send(share: int) -> None:
        client = smtplib.SMTP("127.0.0.1", port)
        for i in range(share):
            client.sendmail("news@bench.example.org", [f"reader{i}@example.org"], message)
        client.quit()

    started, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
            "sent": count, "peak_mb": _peak_mb()}


def _peak_mb() -> float:
    """This process's peak resident memory. (Not getrusage's ru_maxrss: that keeps the peak of
    the parent that forked the process, which here holds the generated subscribers.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(*args: str) -> dict[str, float]:
    result = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def sample_message(config_path: Path, folder: Path) -> Path:
    """One real digest message, as the baseline's pre-built message."""
    from publisher.config import load_config
    from publisher.jobs.samples import sample_message as next_message
    from publisher.store.db import open_store

    config = load_config(config_path, environ={})
    sample = next_message(open_store(config), config, "bench", "reader@example.org",
                          datetime.now(UTC))
    assert sample is not None
    path = folder / "message.eml"
    path.write_bytes(sample.message)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--memory", default="10000,100000")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; medians count")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = child_ours(*rest) if kind == "ours" else child_baseline(
            int(rest[0]), int(rest[1]), int(rest[2]), rest[3])
        print(json.dumps(result))
        return

    os.environ.setdefault("PUBLISHER_SECRET_KEY", "benchmark signing key, long enough to be accepted")
    sink, port = start_sink()
    try:
        sizes = sorted({args.subscribers, *(int(n) for n in args.memory.split(","))})
        results, ours_runs, baseline_runs = {}, [], []
        for size in sizes:
            runs = args.repeat if size == args.subscribers else 1
            for _ in range(runs):  # the two sides alternate, so drift hits both alike
                folder = Path(tempfile.mkdtemp(prefix="publisher-digest-bench-"))
                config_path = prepare(folder, port, args.connections, size)
                print(f"  {size:,} subscribers: sending...", file=sys.stderr)
                if size == args.subscribers:
                    message = sample_message(config_path, folder)  # before the edition is sent
                    baseline_runs.append(run_child("baseline", str(port), str(size),
                                                   str(args.connections), str(message)))
                results[size] = run_child("ours", str(config_path))
                if size == args.subscribers:
                    ours_runs.append(results[size])
    finally:
        sink.terminate()
    ours = sorted(ours_runs, key=lambda r: r["seconds"])[len(ours_runs) // 2]
    baseline = sorted(baseline_runs, key=lambda r: r["seconds"])[len(baseline_runs) // 2]
    ours_rate, base_rate = ours["sent"] / ours["seconds"], baseline["sent"] / baseline["seconds"]
    print(f"one edition to {args.subscribers:,} subscribers over {args.connections} connections "
          f"(median of {args.repeat} runs each), rendered as {ours['variants']:.0f} variants "
          "(readers of CN, of MN, of both)")
    print(f"  publisher:        {ours_rate:8.0f} msg/s  ({ours['seconds']:.2f} s, "
          f"CPU {ours['cpu'] / ours['sent'] * 1e6:.0f} us per recipient)")
    print(f"  smtplib ceiling:  {base_rate:8.0f} msg/s  ({baseline['seconds']:.2f} s, "
          f"CPU {baseline['cpu'] / baseline['sent'] * 1e6:.0f} us per message)")
    ratio = ours_rate / base_rate
    print(f"  ratio:            {ratio:8.2f}     (target >= 0.9: {'met' if ratio >= 0.9 else 'MISSED'})")
    for size, result in results.items():
        print(f"  peak memory at {size:>7,} subscribers: {result['peak_mb']:6.1f} MB "
              "(target: flat, < 200 MB)")


if __name__ == "__main__":
    main()
