"""Scale-out benchmark: one edition to 100,000 subscribers on PostgreSQL, sent by 1, 2 and 4
`publisher worker` processes through a loopback SMTP sink.

    .venv/bin/python benchmarks/workers.py [--subscribers 100000] [--workers 1,2,4]
                                           [--connections 4] [--database URL] [--fillfactor N]

For each number of workers N it reports messages per second (from the moment the edition's
deliveries are committed, when the polling workers start, to its completion), the sink's own
ceiling measured in the same run (N plain smtplib processes sending one pre-built message over
the same connections) and the ratio of the two, the database's time per delivery (statement time
of every session in the benchmark database, from pg_stat_database, divided by the deliveries),
commits per delivery, each worker's peak memory, and the server's shared_buffers. --database
names a server where the benchmark may create and drop a database of its own (default: the
local test server); --fillfactor sets the deliveries table's before sending.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digest import fill_store, sample_message, start_sink, write_config

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Run:
    workers: int
    seconds: float
    sent: int
    db_ms: float
    commits: int
    cpu: float  # seconds, all workers together
    peaks_mb: list[float]
    queueing: float  # seconds the scheduler took to queue the deliveries
    table_mb: float  # the deliveries table and its indexes after the edition
    ceiling: float
    updates: tuple[int, int, int] = (0, 0, 0)  # of deliveries in the run: rows updated, HOT, dead after

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def create_database(admin: str) -> tuple[str, str]:
    name = f"publisher_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = re.sub(r"/[^/]*$", f"/{name}", admin)
    return name, base.replace("postgresql://", "postgresql+psycopg://", 1)


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_postgresql(config_path: Path, url: str) -> None:
    text = config_path.read_text("utf-8")
    text = re.sub(r'(?m)^url = ".*"', f'url = "{url}"', text, count=1)
    config_path.write_text(text + '\n[scheduler]\nsend_in_process = false\n', "utf-8")


def database_clock(plain_url: str) -> tuple[float, int]:
    """Milliseconds spent executing statements in the database so far, and its commits."""
    with psycopg.connect(plain_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT active_time, xact_commit FROM pg_stat_database "
            "WHERE datname = current_database()").fetchone()
    assert row is not None
    return float(row[0]), int(row[1])


def forget_editions(plain_url: str) -> None:
    """Earlier editions gone and their deliveries vacuumed away: each run starts alike."""
    with psycopg.connect(plain_url, autocommit=True) as connection:
        connection.execute("DELETE FROM editions")
        connection.execute("VACUUM ANALYZE deliveries")


def queue_edition(sessions: object, config: object) -> tuple[float, float]:
    """Queue a new edition as the scheduler does: the seconds it took (the scheduler's part), and
    the moment it was committed (`perf_counter`): the workers, polling, start sending then."""
    from publisher.jobs.digests import queue_digest

    started = time.perf_counter()
    edition = queue_digest(sessions, config, "bench", now=datetime.now(UTC))  # type: ignore[arg-type]
    committed = time.perf_counter()
    assert edition is not None
    return committed - started, committed


def delivery_count(plain_url: str) -> int:
    with psycopg.connect(plain_url) as connection:
        row = connection.execute("SELECT count(*) FROM deliveries").fetchone()
    assert row is not None
    return int(row[0])


def update_stats(plain_url: str) -> tuple[int, int, int]:
    """Rows of deliveries updated so far, of them in place (HOT: no new index entries, nothing
    left for vacuum), and dead row versions now (PostgreSQL's statistics, flushed first)."""
    time.sleep(1.5)  # a backend reports its counts within a second of going idle
    with psycopg.connect(plain_url) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute("SELECT n_tup_upd, n_tup_hot_upd, n_dead_tup FROM pg_stat_user_tables "
                                 "WHERE relname = 'deliveries'").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def deliveries_mb(plain_url: str) -> float:
    """The deliveries table with its indexes, on disk."""
    with psycopg.connect(plain_url) as connection:
        row = connection.execute("SELECT pg_total_relation_size('deliveries')").fetchone()
    assert row is not None
    return int(row[0]) / 2**20


def edition_complete(plain_url: str) -> bool:
    with psycopg.connect(plain_url) as connection:
        row = connection.execute("SELECT status FROM editions").fetchone()
    return row is not None and row[0] == "complete"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(count: int, config_path: Path, plain_url: str, sessions: object, config: object,
            folder: Path) -> Run:
    env = {**os.environ, "PUBLISHER_CONFIG": str(config_path)}
    workers = [subprocess.Popen([sys.executable, "-m", "publisher", "worker", "--poll", "0.2"],
                                env=env, stdout=subprocess.DEVNULL,
                                stderr=open(folder / f"worker{n}.log", "wb"))  # noqa: SIM115 (the child owns it)
               for n in range(count)]
    try:
        forget_editions(plain_url)
        time.sleep(2)  # started and idle
        # Everything counted from before the queueing: the workers send as soon as it commits
        updated_before = update_stats(plain_url)
        db_before, commits_before = database_clock(plain_url)
        cpu_before = sum(cpu_seconds(worker.pid) for worker in workers)
        queueing, started = queue_edition(sessions, config)
        while not edition_complete(plain_url):
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        deliveries = delivery_count(plain_url)
        peaks = [peak_mb(worker.pid) for worker in workers]
        cpu = sum(cpu_seconds(worker.pid) for worker in workers) - cpu_before
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    db_after, commits_after = database_clock(plain_url)
    updated = update_stats(plain_url)
    return Run(count, seconds, deliveries, db_after - db_before, commits_after - commits_before,
               cpu, peaks, queueing, deliveries_mb(plain_url), 0.0,
               (updated[0] - updated_before[0], updated[1] - updated_before[1], updated[2]))


def ceiling(processes: int, port: int, count: int, connections: int, message: Path) -> float:
    """Messages per second the sink takes from `processes` plain smtplib senders together."""
    share = count // processes
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, str(Path(__file__).parent / "digest.py"),
                                  "--child", "baseline", str(port), str(share), str(connections),
                                  str(message)], stdout=subprocess.DEVNULL)
                for _ in range(processes)]
    for child in children:
        child.wait()
    return share * processes / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--connections", type=int, default=4, help="per worker")
    parser.add_argument("--fillfactor", type=int, default=0,
                        help="set the deliveries table's fillfactor (10-100) before sending; 0: as migrated")
    parser.add_argument("--database", default=ADMIN,
                        help="a PostgreSQL server (URL) where a database may be created")
    args = parser.parse_args()
    os.environ.setdefault("PUBLISHER_SECRET_KEY", "benchmark signing key, long enough to be accepted")
    from publisher.config import load_config
    from publisher.store.db import open_store

    name, url = create_database(args.database)
    plain_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    sink, port = start_sink()
    folder = Path(tempfile.mkdtemp(prefix="publisher-workers-bench-"))
    runs = []
    try:
        print(f"  storing {args.subscribers:,} subscribers...", file=sys.stderr)
        config_path = write_config(folder, port, args.connections)
        use_postgresql(config_path, url)
        fill_store(config_path, args.subscribers)
        if args.fillfactor:
            with psycopg.connect(plain_url, autocommit=True) as connection:
                connection.execute(f"ALTER TABLE deliveries SET (fillfactor = {int(args.fillfactor)})")
        with psycopg.connect(plain_url) as connection:
            options = connection.execute("SELECT reloptions FROM pg_class WHERE relname = 'deliveries'").fetchone()
            # A table larger than the server's page cache is slower per row: say which this was
            args.shared_buffers = connection.execute("SHOW shared_buffers").fetchone()[0]
        args.table_options = options[0] if options else None
        config = load_config(config_path, environ={})
        sessions = open_store(config)
        message = sample_message(config_path, folder)
        for count in (int(n) for n in args.workers.split(",")):
            print(f"  {count} worker(s): sending...", file=sys.stderr)
            run = measure(count, config_path, plain_url, sessions, config, folder)
            print(f"  {count} smtplib process(es): the sink's ceiling...", file=sys.stderr)
            run.ceiling = ceiling(count, port, args.subscribers, args.connections, message)
            runs.append(run)
    finally:
        sink.terminate()
        drop_database(args.database, name)
    _report(runs, args)


def _report(runs: list[Run], args: argparse.Namespace) -> None:
    print(f"one edition to {args.subscribers:,} subscribers on PostgreSQL, "
          f"{args.connections} connections per worker, {os.cpu_count()} cores")
    print("  workers   msg/s   sink ceiling   ratio   DB ms/delivery   commits/delivery   "
          "worker CPU us/delivery   peak MB per worker")
    for run in runs:
        print(f"  {run.workers:7d} {run.rate:7.0f} {run.ceiling:14.0f} {run.rate / run.ceiling:7.2f}"
              f" {run.db_ms / run.sent:16.3f} {run.commits / run.sent:18.3f}"
              f" {run.cpu / run.sent * 1e6:24.0f}   "
              f"{', '.join(f'{peak:.0f}' for peak in run.peaks_mb)}")
    for run in runs:
        updated, hot, dead = run.updates
        print(f"  {run.workers} worker(s): {updated / run.sent:.2f} updates per delivery, "
              f"{hot / max(updated, 1):.0%} of them in place (HOT); {dead:,} dead row versions after")
    print(f"  deliveries table options: {args.table_options or 'none (fillfactor 100)'}")
    print(f"  queueing the {runs[0].sent:,} deliveries (the scheduler's part): "
          f"{min(run.queueing for run in runs):.2f} s; the deliveries table with its indexes "
          f"{max(run.table_mb for run in runs):.0f} MB after the edition "
          f"(the server's shared_buffers: {args.shared_buffers})")
    first = runs[0]
    for run in runs[1:]:
        print(f"  {run.workers} workers vs {first.workers}: {run.rate / first.rate:.2f}x the rate")


if __name__ == "__main__":
    main()
