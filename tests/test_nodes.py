"""Many machines, one site: `publisher serve` processes with folders of their own and one database
answer the same feeds (bytes, ETag, Last-Modified), pages and subscriptions, whichever built them;
nginx in front of two of them keeps answering when one dies."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import SEED, local, mail_config, need, status_of, wait_until
from mailserver import MailServer, free_port
from sqlalchemy import select
from test_clicks import COUNTED, follow, wait_for_clicks
from test_deploy import MAIN

from publisher.config import load_config
from publisher.store.db import open_store
from publisher.store.models import LinkClick

pytestmark = pytest.mark.slow  # starts several processes
KEY = "one signing key for every node, long enough"
SAME = ("etag", "last-modified", "content-type", "content-length", "cache-control")


def _environment() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}, "PUBLISHER_SECRET_KEY": KEY}


class Node:
    """`publisher serve` on a config of its own (its own feeds folder), on a port of its own."""

    def __init__(self, folder: Path, db_url: str, mail_server: MailServer) -> None:
        folder.mkdir()
        self.folder, self.port = folder, free_port()
        self.config = mail_config(folder, db_url, mail_server)
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "publisher", "--config", str(self.config), "serve", "--port", str(self.port)],
            env=_environment(), stdout=subprocess.DEVNULL, stderr=open(folder / "serve.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.base + "/healthz", timeout=1)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline and self.process.poll() is None, self.log()
                time.sleep(0.1)

    def log(self) -> str:
        return (self.folder / "serve.log").read_text("utf-8", "replace")[-3000:]

    def stop(self) -> str:
        """SIGTERM; how it ended ("stopped", or what went wrong, with its log)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return f"did not stop within 30 s of SIGTERM:\n{self.log()}"
        return "stopped" if code in (0, -signal.SIGTERM, -signal.SIGKILL) else f"exit code {code}:\n{self.log()}"


@pytest.fixture
def nodes(tmp_path: Path, db_url: str, mail_server: MailServer) -> Iterator[list[Node]]:
    started: list[Node] = []

    def start(name: str) -> Node:
        started.append(Node(tmp_path / name, db_url, mail_server))
        return started[-1]

    yield start  # type: ignore[misc]
    ended = [node.stop() for node in started]
    assert set(ended) == {"stopped"}, ended


def build_elsewhere(tmp_path: Path, db_url: str, mail_server: MailServer) -> Path:
    """An import (with its build) by a process on a config and folder of its own; its folder."""
    folder = tmp_path / "builder"
    folder.mkdir()
    path = mail_config(folder, db_url, mail_server)
    done = subprocess.run([sys.executable, "-m", "publisher", "--config", str(path), "import", str(SEED)],
                          env=_environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return folder / "feeds"


def built_files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.name.startswith(".") and path.suffix != ".gz"}


def test_every_node_answers_every_feed_the_builder_made(nodes, tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    first, second = nodes("first"), nodes("second")
    assert httpx.get(first.base + "/feeds/cn/atom.xml").status_code == 404  # nothing built yet
    files = built_files(build_elsewhere(tmp_path, db_url, mail_server))
    assert len(files) > 10 and "cn/atom.xml" in files and "feeds.opml" in files

    def seen_everywhere() -> bool:  # one file per look: the look times the nodes, not this client
        return all(httpx.get(f"{node.base}/feeds/cn/atom.xml").content == files["cn/atom.xml"]
                   for node in (first, second))

    started = time.monotonic()
    wait_until(seen_everywhere, 2)
    assert time.monotonic() - started < 2
    assert all(httpx.get(f"{node.base}/feeds/{name}").content == body  # and every file, the same bytes
               for node in (first, second) for name, body in files.items())
    assert not (first.folder / "feeds").exists() or not built_files(first.folder / "feeds")  # from the store

    later = nodes("later")  # started after the build: answers at once
    for name in files:
        one, other, third = (httpx.get(f"{node.base}/feeds/{name}") for node in (first, second, later))
        assert one.content == other.content == third.content == files[name]
        assert all(one.headers[header] == other.headers[header] == third.headers[header] for header in SAME)
        for node in (second, later):  # each other's validators
            assert httpx.get(f"{node.base}/feeds/{name}",
                             headers={"If-None-Match": one.headers["etag"]}).status_code == 304
            assert httpx.get(f"{node.base}/feeds/{name}",
                             headers={"If-Modified-Since": one.headers["last-modified"]}).status_code == 304
        packed = [httpx.get(f"{node.base}/feeds/{name}", headers={"Accept-Encoding": "gzip"})
                  for node in (first, later)]
        assert packed[0].headers["etag"] == packed[1].headers["etag"] and packed[0].content == packed[1].content


def test_a_rebuild_that_changes_nothing_changes_no_validator(nodes, tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    first = nodes("first")
    build_elsewhere(tmp_path, db_url, mail_server)
    wait_until(lambda: httpx.get(first.base + "/feeds/cn/atom.xml").status_code == 200, 2)
    before = httpx.get(first.base + "/feeds/cn/atom.xml").headers
    shutil.rmtree(tmp_path / "builder")
    build_elsewhere(tmp_path, db_url, mail_server)  # a fresh folder: every file written again
    time.sleep(1.0)
    after = httpx.get(first.base + "/feeds/cn/atom.xml").headers
    assert (after["etag"], after["last-modified"]) == (before["etag"], before["last-modified"])


def test_pages_and_subscriptions_are_the_same_on_every_node(nodes, tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    first, second = nodes("first"), nodes("second")
    build_elsewhere(tmp_path, db_url, mail_server)
    news = [httpx.get(node.base + "/") for node in (first, second)]
    assert news[0].status_code == news[1].status_code == 200 and news[0].text == news[1].text
    release = re.search(r'href="(/releases/[^"]+)"', news[0].text).group(1)  # type: ignore[union-attr]
    assert httpx.get(first.base + release).text == httpx.get(second.base + release).text

    with httpx.Client(base_url=first.base) as client:  # the form from one node, sent to the other
        form = client.get("/subscribe")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        answer = httpx.post(second.base + "/subscribe", cookies=client.cookies,
                            data={"email": "reader@example.org", "countries": ["CN"], "csrf": csrf})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    [letter] = mail_server.to("reader@example.org")
    text = next(letter.message.iter_parts()).get_content()
    confirm = re.search(r"(https?://\S+/confirm\?token=\S+)", text).group(1)  # type: ignore[union-attr]
    assert "You are subscribed" in httpx.get(local(confirm, first.base)).text  # signed on one, checked on another
    sessions = open_store(load_config(first.config, environ={}))
    assert status_of(sessions, "reader@example.org") == "confirmed"

    for node in (first, second, first, second):  # confirmation mails to one address: 3 an hour, on all nodes
        assert subscribe(node.base, "twice@example.org").status_code == 200
    assert len(mail_server.to("twice@example.org")) == 3

    sent = subprocess.run([sys.executable, "-m", "publisher", "--config", str(first.config), "digest", "send",
                           "china-weekly"], env=_environment(), capture_output=True, text=True, timeout=120)
    assert sent.stdout.endswith(" 1 sent, 0 failed\n"), sent.stdout + sent.stderr
    digest = mail_server.to("reader@example.org")[-1].message
    links = list(dict.fromkeys(COUNTED.findall(next(digest.iter_parts()).get_content())))
    for node, link in ((first, links[0]), (second, links[1])):  # one reader, a link on each node
        assert follow(node.base, link).status_code == 302
    wait_for_clicks(sessions, 2)
    with sessions() as session:
        assert len(set(session.scalars(select(LinkClick.reader)))) == 1  # counted as one reader


def subscribe(base: str, email: str) -> httpx.Response:
    with httpx.Client(base_url=base) as client:
        form = client.get("/subscribe")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        return client.post("/subscribe", data={"email": email, "countries": ["CN"], "csrf": csrf})


NODES_SITE = """\
upstream publisher {{
    server 127.0.0.1:{first};
    server 127.0.0.1:{second};
    keepalive 16;
}}
"""


def test_nginx_keeps_answering_when_a_node_dies(nodes, tmp_path, db_url, mail_server) -> None:  # type: ignore[no-untyped-def]
    if not shutil.which("nginx"):
        need("nginx-light is not installed")
    first, second = nodes("first"), nodes("second")
    build_elsewhere(tmp_path, db_url, mail_server)
    port = free_port()
    site = nodes_site(first.port, second.port, port)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "site.conf").write_text(site)
    user = "user root; " if os.getuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(MAIN.format(user=user, folder=tmp_path))
    nginx = subprocess.Popen(["nginx", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "nginx-error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        front = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(port), 15)
        wait_until(lambda: httpx.get(front + "/feeds/cn/atom.xml").status_code == 200, 3)
        with httpx.Client(base_url=front) as client:
            assert all(client.get(path).status_code == 200 for path in ("/", "/feeds/cn/atom.xml") * 10)
            first.process.kill()  # a machine lost, without a word
            first.process.wait(10)
            answers = [client.get(path).status_code for path in ("/", "/feeds/cn/atom.xml", "/healthz") * 20]
        assert answers == [200] * 60
    finally:
        nginx.terminate()
        nginx.wait(timeout=15)


def nodes_site(first: int, second: int, port: int) -> str:
    """deploy/nginx-nodes.conf pointed at this test's two nodes and port."""
    from helpers import ROOT

    text = (ROOT / "deploy" / "nginx-nodes.conf").read_text("utf-8")
    upstream = re.search(r"(?ms)^upstream publisher \{.*?^\}\n", text)
    assert upstream, "no upstream block"
    text = text.replace(upstream.group(0), NODES_SITE.format(first=first, second=second))
    assert text.count("listen 80;") == 1
    return text.replace("listen 80;", f"listen 127.0.0.1:{port};")


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
