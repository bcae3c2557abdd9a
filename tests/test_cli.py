"""The command line as an operator meets it: help, README, the first command on a fresh folder."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import get_args, get_origin

import click
import httpx
import pytest
from helpers import ROOT, sqlite_store
from pydantic import BaseModel

from publisher.cli import cli
from publisher.config import Config

README = (ROOT / "README.md").read_text("utf-8")


def _commands(group: click.Group, prefix: str = "publisher") -> list[tuple[str, click.Command]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize(("path", "command"), _commands(cli), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help_and_a_readme_entry(path: str, command: click.Command) -> None:
    assert command.help and command.help.strip()
    assert f"`{path}" in README, f"README has no entry for {path}"


def test_the_help_lines_publisher_help_shows_are_the_commands_own() -> None:
    """`publisher --help` lists the commands from app.COMMANDS without importing them."""
    from publisher.cli.app import COMMANDS

    context = click.Context(cli)
    for name, (module, line) in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None and command.callback is not None
        assert (command.callback.__module__, command.get_short_help_str(limit=1000)) == (
            f"publisher.cli.{module}", line)


def test_help_imports_no_command_and_neither_sqlalchemy_nor_pydantic() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "publisher", "--help"],
                          capture_output=True, text=True, timeout=60, check=True)
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert sorted(m for m in imported if m.startswith(("publisher.cli.", "sqlalchemy", "pydantic"))) == [
        "publisher.cli.app"]
    assert "Commands:" in done.stdout


def test_a_command_runs_with_the_collector_on_and_what_start_up_made_set_aside() -> None:
    """The collector is off while a command's modules load (publisher/cli/__init__.py main), and on
    again, over what was made after them, once the command is found."""
    probe = ("import gc, sys\n"
             "from publisher.cli import cli, main\n"
             "@cli.command('probe')\n"
             "def probe():\n"
             "    print(gc.isenabled(), gc.get_freeze_count() > 10_000, gc.get_threshold())\n"
             "sys.argv = ['publisher', 'probe']\n"
             "print(gc.isenabled())\n"
             "main()\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split("\n") == ["True", "True True (50000, 20, 100)", ""]


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_second() -> None:
    blocks = README.split("```sh\n")[1:3]
    install_and_run, install_and_test = (block.split("\n```")[0] for block in blocks)
    assert install_and_run.endswith("publisher run")
    assert "'.[test]'" in install_and_test and "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert install_and_test in ci.splitlines()


def _config_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        inner = get_args(annotation)[0] if get_origin(annotation) is tuple else annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _config_keys(inner, f"{prefix}{name}{'.' if inner is annotation else '[].'}")
        else:
            yield prefix + name


def test_every_config_key_is_in_the_readme() -> None:
    missing = [key for key in _config_keys(Config) if f"`{key}`" not in README]
    assert missing == []


@pytest.fixture
def embedded_port() -> Iterator[None]:
    """The tests that serve on the embedded default, 127.0.0.1:8080, take turns (a lock file:
    whichever worker, or run of the suite, holds it)."""
    with open(Path(tempfile.gettempdir()) / "publisher-tests-port-8080.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.mark.slow
@pytest.mark.usefixtures("embedded_port")
def test_first_command_runs_on_embedded_defaults_in_an_empty_folder(tmp_path: Path) -> None:
    """`publisher run` with no config anywhere: imports the bundled releases, builds the feeds,
    schedules the digests (outbox: no SMTP host), and stops cleanly on SIGTERM."""
    def links_lead_somewhere() -> None:  # the links feeds and mail hand out, on this machine
        feed = httpx.get("http://127.0.0.1:8080/feeds/cn/atom.xml", timeout=10)
        assert feed.status_code == 200
        pages = re.findall(r'href="(http://127\.0\.0\.1:8080/[^"]+)"', feed.text)
        assert pages and all(httpx.get(page, timeout=10).status_code == 200 for page in pages[:3])
        assert httpx.get("http://127.0.0.1:8080/subscribe", timeout=10).status_code == 200

    out, err = _run_until_scheduling(tmp_path, _environment(), while_running=links_lead_somewhere)
    assert out == ("imported 20 new, 0 updated, 0 unchanged from bundled:ilo-china-mongolia-news.txt\n"
                   f"feeds: 11 changed, 0 unchanged in {tmp_path / 'feeds'}\n")
    assert "scheduler running 3 jobs: digest:china-weekly, digest:mongolia-monthly, feeds" in err
    assert (tmp_path / "publisher.db").is_file() and (tmp_path / "feeds" / "cn" / "atom.xml").is_file()
    out, _ = _run_until_scheduling(tmp_path, _environment())
    assert out == ("imported 0 new, 0 updated, 20 unchanged from bundled:ilo-china-mongolia-news.txt\n"
                   f"feeds: 0 changed, 11 unchanged in {tmp_path / 'feeds'}\n")


@pytest.mark.slow
@pytest.mark.usefixtures("embedded_port")
def test_the_wheel_holds_everything_the_first_command_needs(tmp_path: Path) -> None:
    """`pip install .` (not editable): the built wheel alone, with no source tree beside it,
    runs the first command and renders every kind of template (feed index, email, pages)."""
    assert not [path for path in (ROOT / "publisher").rglob("*") if path.is_symlink()]
    source = tmp_path / "source"  # a clean copy: a build/ folder left in the checkout is stale
    shutil.copytree(ROOT / "publisher", source / "publisher", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=300,
                           check=False)
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("publisher-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    folder = tmp_path / "office"
    folder.mkdir()
    env = {**_environment(), "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import publisher; print(publisher.__file__)"],
                           cwd=folder, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site))  # the wheel's copy, not the source tree
    out, _ = _run_until_scheduling(folder, env)
    assert (folder / "feeds" / "index.html").is_file() and "feeds: 11 changed" in out
    def publisher(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "publisher", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    # The bundled releases are from 2021-2022: not news to a digest starting today. The preview
    # shows the latest releases instead, marked as a sample, so the design can be checked.
    sample = publisher("digest", "preview", "china-weekly", "--out", "preview").stdout
    assert sample.startswith("china-weekly: nothing new; wrote a sample of the latest releases")
    assert (folder / "preview" / "china-weekly.eml").read_bytes().count(b"Subject: [Sample] ") == 1
    assert publisher("digest", "start", "china-weekly", "--from", "2021-01-01").returncode == 0
    preview = publisher("digest", "preview", "china-weekly", "--out", "preview")
    assert preview.returncode == 0, preview.stderr
    assert "ILO" in (folder / "preview" / "china-weekly.html").read_text("utf-8")


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}


def _run_until_scheduling(folder: Path, env: dict[str, str], *,
                          while_running: Callable[[], None] = lambda: None) -> tuple[str, str]:
    """`publisher run` in `folder` until it schedules (and `while_running` returned), then
    SIGTERM: its stdout and stderr."""
    process = subprocess.Popen([sys.executable, "-m", "publisher", "run"], cwd=folder, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    lines = []
    assert process.stderr is not None
    while not any("scheduler running" in line for line in lines):
        assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
        lines.append(process.stderr.readline())
    while_running()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return out, "".join(lines) + err


def test_releases_list_filters_by_country(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from helpers import SEED, write_config

    path = write_config(tmp_path, sqlite_store(tmp_path))
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "import", str(SEED)]).exit_code == 0
    result = runner.invoke(cli, ["--config", str(path), "releases", "list", "--country", "mn"])
    assert result.exit_code == 0
    assert "Social Protection" in result.output and result.output.endswith("1 release of MN\n")
    bad = runner.invoke(cli, ["--config", str(path), "releases", "list", "--country", "FR"])
    assert bad.exit_code == 2 and "unknown country 'FR'" in bad.stderr


def test_a_log_line_is_one_line_with_its_time_as_text_or_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    from publisher.logs import setup_logging

    for fmt in ("text", "json"):
        setup_logging(fmt=fmt)
        logging.getLogger("publisher.test").warning("a reply of two lines:\n550 5.1.1 unknown")
        [line] = capsys.readouterr().err.splitlines()
        if fmt == "json":
            event = json.loads(line)
            assert (event["level"], event["logger"], event["message"]) == (
                "WARNING", "publisher.test", "a reply of two lines:\n550 5.1.1 unknown")
        else:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING publisher\.test: "
                                r"a reply of two lines: 550 5\.1\.1 unknown", line)
        # a line of uvicorn's general logger, named "uvicorn.error": shown as "uvicorn"
        logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")  # (a level no test lowers)
        [line] = capsys.readouterr().err.splitlines()
        assert (json.loads(line)["logger"] if fmt == "json" else line.split()[2].removesuffix(":")) == "uvicorn"
    setup_logging()
