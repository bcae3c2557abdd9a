"""deploy/nginx.conf as production runs it: Debian's nginx serving the built feeds from disk and
proxying the rest to the app, answering as the app itself does (types, validators, 304s, gzip,
HEAD, security headers, nothing but the feed files)."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import ROOT, need, seeded, sqlite_store
from mailserver import free_port

from publisher.web.app import create_app

pytestmark = pytest.mark.slow  # starts nginx
FILES = ["cn/atom.xml", "mn/rss.xml", "all/feed.json", "feeds.opml", "index.html"]
SAME = ["content-type", "cache-control", "vary", "content-security-policy", "x-content-type-options",
        "referrer-policy", "x-frame-options"]
MAIN = """\
{user}daemon off; worker_processes 1; pid {folder}/nginx.pid; error_log {folder}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {folder}/tmp; proxy_temp_path {folder}/tmp; fastcgi_temp_path {folder}/tmp;
  uwsgi_temp_path {folder}/tmp; scgi_temp_path {folder}/tmp;
  include {folder}/site.conf;
}}
"""


def site_config(app_port: int, nginx_port: int, root: Path) -> str:
    """deploy/nginx.conf with its ADJUST places pointed at this test's app and folder."""
    text = (ROOT / "deploy" / "nginx.conf").read_text("utf-8")
    for old, new in (("server 127.0.0.1:8080;", f"server 127.0.0.1:{app_port};"),
                     ("listen 80;", f"listen 127.0.0.1:{nginx_port};"),
                     ("root /srv/publisher;", f"root {root};")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def proxied(tmp_path: Path, live_server) -> Iterator[tuple[str, str, object]]:  # type: ignore[no-untyped-def]
    if not shutil.which("nginx"):
        need("nginx-light is not installed")
    config, sessions = seeded(tmp_path, sqlite_store(tmp_path))
    assert Path(config.feeds.dir) == tmp_path / "feeds"
    holder, app_base = live_server
    holder.app = create_app(config, sessions)
    port = free_port()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "site.conf").write_text(site_config(int(app_base.rsplit(":", 1)[1]), port, tmp_path))
    user = "user root; " if os.getuid() == 0 else ""  # its workers read the test's own folder
    (tmp_path / "nginx.conf").write_text(MAIN.format(user=user, folder=tmp_path))
    nginx = subprocess.Popen(["nginx", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "nginx-error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert nginx.poll() is None and time.monotonic() < deadline, nginx.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", app_base, config
    finally:
        nginx.terminate()
        nginx.wait(timeout=15)
        holder.app = None


@pytest.mark.parametrize("path", FILES)
def test_nginx_serves_each_file_as_the_app_does(proxied, path: str) -> None:  # type: ignore[no-untyped-def]
    nginx, app, _config = proxied
    plain = {"Accept-Encoding": "identity"}
    ours, theirs = (httpx.get(f"{base}/feeds/{path}", headers=plain) for base in (app, nginx))
    assert theirs.status_code == ours.status_code == 200
    assert theirs.content == ours.content
    assert {name: theirs.headers.get(name) for name in SAME} == {name: ours.headers.get(name) for name in SAME}
    assert theirs.headers["etag"] and theirs.headers["last-modified"]
    for validator in ({"If-None-Match": theirs.headers["etag"]},
                      {"If-Modified-Since": theirs.headers["last-modified"]}):
        again = httpx.get(f"{nginx}/feeds/{path}", headers={**plain, **validator})
        assert again.status_code == 304 and again.content == b""
    zipped = httpx.get(f"{nginx}/feeds/{path}", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == ours.content  # httpx unzips
    assert gzip.decompress(Path(_config.feeds.dir, path + ".gz").read_bytes()) == ours.content
    head = httpx.head(f"{nginx}/feeds/{path}", headers=plain)
    assert head.content == b"" and head.headers["content-length"] == str(len(ours.content))


@pytest.mark.parametrize("path", ["/feeds/.build-state.json", "/feeds/cn/atom.xml.gz", "/feeds/cn/.atom.xml.x.tmp",
                                  "/feeds/nope.xml", "/feeds/../x.db"])
def test_nginx_serves_nothing_else_of_the_folder(proxied, path: str) -> None:  # type: ignore[no-untyped-def]
    nginx, _app, _config = proxied
    assert httpx.get(nginx + path).status_code == 404


def test_the_rest_is_the_app_behind_the_proxy_with_each_header_once(proxied) -> None:  # type: ignore[no-untyped-def]
    nginx, app, _config = proxied
    page = re.search(r"http://127\.0\.0\.1:8080(/releases/[^\"<]+)", httpx.get(app + "/feeds/cn/atom.xml").text)
    assert page is not None
    for path in ("/", "/healthz", "/subscribe", page.group(1), "/feeds/?lang=mn", "/feeds"):
        ours, theirs = httpx.get(app + path), httpx.get(nginx + path)
        assert (theirs.status_code, theirs.headers["content-type"]) == (ours.status_code, ours.headers["content-type"])
        assert [name for name, _ in theirs.headers.multi_items()].count("x-frame-options") == 1
        if path not in ("/healthz", "/subscribe"):  # (they hold times and form tokens of their own)
            assert theirs.content == ours.content
    assert 'lang="mn"' in httpx.get(nginx + "/feeds/", headers={"Accept-Language": "mn"}).text  # the app's page


def test_nginx_lets_a_subscriber_upload_through_and_the_app_asks_who_sends_it(proxied) -> None:  # type: ignore[no-untyped-def]
    """nginx's limit once refused a 101 KB subscriber import (413); now the app answers it, and
    without a token that answer is 401 before a byte of it is read."""
    nginx, _app, _config = proxied
    csv = ("email,countries\n" + "".join(f"r{i}@example.org,CN\n" for i in range(5_000))).encode()  # 108 KB
    answer = httpx.post(nginx + "/api/v1/subscribers/import", content=csv, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
    too_big = httpx.post(nginx + "/subscribe", content=b"x" * 300_000)
    assert too_big.status_code == 413


UNITS = sorted((ROOT / "deploy" / "systemd").glob("publisher-*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=[unit.stem for unit in UNITS])
def test_each_systemd_unit_verifies_and_runs_a_real_command(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit as shipped, its program pointed at this install; the
    command it starts exists; it restarts on failure, stops with SIGTERM and reads its secrets
    from a file."""
    import sys

    if not shutil.which("systemd-analyze"):
        need("systemd (systemd-analyze) is not installed")
    text = unit.read_text("utf-8")
    program = "/opt/publisher/.venv/bin/publisher"
    role = unit.stem.removeprefix("publisher-")
    assert f"\nExecStart={program} {role}\n" in text
    for line in ("Restart=on-failure", "KillSignal=SIGTERM", "EnvironmentFile=/etc/publisher/environment"):
        assert f"\n{line}\n" in text, line
    installed = Path(sys.executable).parent / "publisher"
    (tmp_path / unit.name).write_text(text.replace(program, str(installed)), "utf-8")
    verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit.name)],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    assert subprocess.run([str(installed), role, "--help"], capture_output=True, timeout=60).returncode == 0
