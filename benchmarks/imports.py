"""Import benchmark: a generated listing of 100,000 releases (English, Chinese and Mongolian
titles, credits, categories, summaries; titles repeated on other days, so slugs collide),
imported into an empty SQLite store, then imported again unchanged.

    .venv/bin/python benchmarks/imports.py [--sizes 10000,100000]

Each figure is one `publisher import` process from the outside (start-up and the feed rebuild
included) with its peak memory and, for a file of 2 MB or more, its helper process's peak added
(ingest/helper.py: more than the two held at once, never less), and in the same run the
baseline: the very rows that import stored (releases and their countries), inserted into an
empty store with SQLAlchemy Core `executemany`, timed inside its process (the insert and commit alone).
Targets at 100,000: import <= 10 s, <= 200 MB and <= 3x the baseline; unchanged re-import
<= 2 s; peak memory flat in the file's size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from measure import run_child

WORDS = [
    "decent", "work", "social", "protection", "skills", "employment", "youth", "women",
    "enterprises", "dialogue", "safety", "health", "wages", "migration", "apprenticeship",
    "green", "jobs", "rights", "standards", "tripartite", "productivity", "informal", "economy",
    "pensions", "inspection", "training", "workshop", "forum", "report",
]
CHINESE = ["中国", "北京", "内蒙古"]
PLACES = ["China", "Mongolia", "Beijing", "Ulaanbaatar", "Inner Mongolia", "Hohhot"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]
TITLES = 2_000  # a title recurs on other days: their slugs collide and get the date


def title(number: int) -> str:
    words = [WORDS[(number * k + k * k) % len(WORDS)] for k in range(1, 7)]
    if number % 10 == 0:
        return f"{CHINESE[number % 3]}体面劳动与社会保障研讨会第{number}期"
    if number % 20 == 1:
        return f"Монголын хөдөлмөрийн зах зээлийн тайлан {number}"
    return f"ILO and partners on {' '.join(words[:4])} in {PLACES[number % len(PLACES)]} ({words[4]} {number})"


def listing(size: int) -> str:
    """`size` releases over 37 years, newest year first, each (day, title) once."""
    days = 37 * 365
    by_year: dict[int, list[str]] = {}
    for i in range(size):
        day = i % days
        year, in_year = 1990 + day // 365, day % 365
        month, dom = 1 + in_year // 31 % 12, 1 + in_year % 28
        name = title((i // days * 37 + day) % TITLES)
        item = []
        if i % 5 == 0:
            item.append(f"© ILO/Photographer {i % 97}")
        if i % 10 == 3:
            item.append(f"World Employment and Social Outlook {year}")
        month_name = MONTHS[month - 1]
        item += [name, f"{dom} {month_name} {year}",
                 " ".join(WORDS[(i + k) % len(WORDS)] for k in range(30)).capitalize() + "."]
        by_year.setdefault(year, []).append("\n\n".join(
            [f"  {len(by_year.get(year, [])) + 1}. {item[0]}"] + [f"    {p}" for p in item[1:]]))
    out = ["News and press releases", ""]
    for year in sorted(by_year, reverse=True):
        out += [str(year), "", "\n\n".join(by_year[year]), ""]
    return "\n".join(out) + "\n"


def write_config(folder: Path, name: str) -> Path:
    path = folder / f"{name}.toml"
    shipped = (Path(__file__).resolve().parent.parent / "config.toml").read_text("utf-8")
    path.write_text(shipped.replace('url = "sqlite:///publisher.db"', f'url = "sqlite:///{folder / name}.db"')
                    .replace('dir = "feeds"', f'dir = "{folder / name}-feeds"'), "utf-8")
    return path


def child_baseline(source_config: str, target_config: str) -> dict[str, float]:
    """The rows the import stored, inserted again into an empty store with Core executemany."""
    from sqlalchemy import insert, select

    from publisher.config import load_config
    from publisher.store.db import engine_of, open_store
    from publisher.store.models import Release, ReleaseCountry

    source = open_store(load_config(Path(source_config)))
    with source() as session:
        releases = [dict(row._mapping) for row in session.execute(select(Release.__table__))]
        links = [dict(row._mapping) for row in session.execute(select(ReleaseCountry.__table__))]
    target = open_store(load_config(Path(target_config)))
    started = time.perf_counter()
    with engine_of(target).begin() as connection:
        connection.execute(insert(Release.__table__), releases)
        connection.execute(insert(ReleaseCountry.__table__), links)
    return {"seconds": time.perf_counter() - started, "releases": len(releases)}


def bench(size: int, work: Path) -> dict[str, float]:
    folder = work / str(size)
    folder.mkdir()
    path = folder / "listing.txt"
    path.write_text(listing(size), "utf-8")
    config = write_config(folder, "ours")
    first = run_child(["publisher", "--config", str(config), "import", str(path)])
    again = run_child(["publisher", "--config", str(config), "import", str(path)])
    base = run_child([__file__, "--child", str(config), str(write_config(folder, "base"))])
    baseline = json.loads(base[2])
    print(f"{size:,} releases, a {path.stat().st_size / 1e6:.1f} MB listing:")
    print(f"  import            {first[0]:7.2f} s {size / first[0]:>9,.0f} releases/s {first[1]:6.1f} MB"
          f"   {first[0] / baseline['seconds']:.2f}x baseline")
    print(f"    said: {' / '.join(first[2].strip().splitlines())}")
    print(f"  again, unchanged  {again[0]:7.2f} s {size / again[0]:>9,.0f} releases/s {again[1]:6.1f} MB")
    print(f"    said: {' / '.join(again[2].strip().splitlines())}")
    print(f"  baseline (Core executemany of the same {baseline['releases']:,} rows) {baseline['seconds']:.2f} s")
    return {"import": first[0], "peak": first[1], "again": again[0], "ratio": first[0] / baseline["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_baseline(*args.child)))
        return
    work = Path(tempfile.mkdtemp(prefix="publisher-bench-imports-"))
    try:
        results = {size: bench(size, work) for size in (int(s) for s in args.sizes.split(","))}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    largest = max(results)
    figures = results[largest]
    checks = [("import <= 10 s", figures["import"] <= 10), ("<= 200 MB", figures["peak"] <= 200),
              ("<= 3x baseline", figures["ratio"] <= 3), ("unchanged <= 2 s", figures["again"] <= 2)]
    if len(results) > 1:
        smallest = min(results)
        checks.append((f"peak flat ({results[smallest]['peak']:.0f} -> {figures['peak']:.0f} MB, <= 1.5x)",
                       figures["peak"] <= 1.5 * results[smallest]["peak"]))
    print(f"targets at {largest:,}: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks))
    sys.exit(0)


if __name__ == "__main__":
    main()
