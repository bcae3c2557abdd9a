"""feeds.publish: every build copies the feeds to an S3-compatible bucket (moto's S3 API on
loopback, read back with boto3): the same bytes with their types, nothing uploaded when nothing
changed, files no build makes any more deleted, and a bucket that is away never fails a build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from helpers import SEED, sqlite_store, write_config
from mailserver import free_port

from publisher.cli import cli
from publisher.config import load_config
from publisher.store.db import open_store
from publisher.store.feedfiles import file_versions

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "news-feeds"
KEYS = {"AWS_ACCESS_KEY_ID": "an-access-key", "AWS_SECRET_ACCESS_KEY": "its-secret"}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """An S3 API at a loopback address, holding one empty bucket; a client of it."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    httpx.post(f"{endpoint}/moto-api/reset").raise_for_status()  # (its buckets live on in this process)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


def configured(tmp_path: Path, endpoint: str, *, archive: bool = False) -> Path:
    path = write_config(tmp_path, sqlite_store(tmp_path))
    text = path.read_text("utf-8").replace("archive = false", f"archive = {str(archive).lower()}")
    path.write_text(text + f'\n[feeds.publish]\nendpoint = "{endpoint}"\nbucket = "{BUCKET}"\nprefix = "site/feeds/"\n')
    return path


def run(path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def held(client: Any) -> dict[str, dict[str, Any]]:
    listing = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: item for item in listing}


def built(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.name.startswith(".") and path.suffix != ".gz"}


def test_the_bucket_holds_what_the_build_made_and_a_rebuild_uploads_nothing(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    endpoint, client = s3
    path = configured(tmp_path, endpoint)
    printed = run(path, "import", str(SEED))
    files = built(tmp_path / "feeds")
    assert f"bucket: {len(files)} uploaded, 0 deleted" in printed
    assert set(held(client)) == {f"site/feeds/{name}" for name in files}
    types = {"cn/atom.xml": "application/atom+xml", "all/rss.xml": "application/rss+xml",
             "mn/feed.json": "application/feed+json", "feeds.opml": "text/x-opml; charset=utf-8",
             "index.html": "text/html; charset=utf-8"}
    for name, body in files.items():
        thing = client.get_object(Bucket=BUCKET, Key=f"site/feeds/{name}")
        assert thing["Body"].read() == body
        assert thing["CacheControl"] == "public, max-age=300"
        if name in types:
            assert thing["ContentType"] == types[name]
    before = {key: item["LastModified"] for key, item in held(client).items()}

    (tmp_path / "feeds" / ".build-state.json").unlink()  # every file rendered again: the same bytes
    assert run(path, "feeds", "build").endswith("; bucket: 0 uploaded, 0 deleted\n")
    assert {key: item["LastModified"] for key, item in held(client).items()} == before


def test_files_no_build_makes_any_more_leave_the_bucket_the_store_and_the_folder(s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    endpoint, client = s3
    path = configured(tmp_path, endpoint, archive=True)
    run(path, "import", str(SEED))
    archives = [key for key in held(client) if "/archive/" in key]
    assert archives and (tmp_path / "feeds" / "cn" / "archive").is_dir()
    path.write_text(path.read_text("utf-8").replace("archive = true", "archive = false"))
    printed = run(path, "feeds", "build")
    assert f"{len(archives)} removed" in printed and f"{len(archives)} deleted" in printed
    assert not [key for key in held(client) if "/archive/" in key]
    assert not list((tmp_path / "feeds").rglob("archive/*"))
    sessions = open_store(load_config(path, environ={}))
    with sessions() as session:
        assert not [name for name in file_versions(session) if "/archive/" in name]


def test_a_bucket_that_is_away_fails_no_build_and_the_next_build_catches_up(s3, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    endpoint, _client = s3
    away = f"http://127.0.0.1:{free_port()}"
    path = configured(tmp_path, away)
    printed = run(path, "import", str(SEED))
    assert "bucket: 0 uploaded, 0 deleted (stopped:" in printed and (tmp_path / "feeds" / "cn" / "atom.xml").is_file()
    assert "the next build tries again" in caplog.text
    path.write_text(path.read_text("utf-8").replace(away, endpoint))
    assert f"bucket: {len(built(tmp_path / 'feeds'))} uploaded" in run(path, "feeds", "build")


def test_without_credentials_the_build_says_which_variables_to_set(s3, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    endpoint, client = s3
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    printed = run(configured(tmp_path, endpoint), "import", str(SEED))
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in printed and not held(client)


def test_an_endpoint_without_a_bucket_is_refused_naming_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, sqlite_store(tmp_path))
    path.write_text(path.read_text("utf-8") + '\n[feeds.publish]\nendpoint = "https://s3.example.org"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"])
    assert result.exit_code != 0 and "feeds.publish" in result.output + (result.stderr or "")
