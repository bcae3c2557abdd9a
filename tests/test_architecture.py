"""docs/architecture.md is the map: every file and folder it names exists, every package and
top-level module of publisher/ is in it, and imports point down its layers (a module imports
its own layer or a lower one), the layers read from the map itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from helpers import ROOT

DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "publisher"


def _rows() -> list[tuple[str, str, str]]:
    """(layer, what the row is about, what it holds) of the map's table, the layer carried down."""
    rows, layer = [], ""
    for line in DOC.read_text("utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or cells[0] in ("layer", "---"):
            continue
        layer = cells[0] or layer
        rows.append((layer, cells[1], cells[2]))
    return rows


def _named(text: str) -> list[str]:
    return re.findall(r"`([\w./]+(?:\.py|/))`", text)


def _layers() -> dict[str, str]:
    """Each top-level name of publisher/ (`cli`, `urls`...) and the layer the map puts it in."""
    return {name.strip("/").removesuffix(".py").split("/")[0]: layer
            for layer, what, _ in _rows() for name in _named(what)}


def test_every_path_the_map_names_exists() -> None:
    missing = []
    for _, what, holds in _rows():
        for top in _named(what):
            base = PACKAGE / top.strip("/")
            if not (base.exists() or base.with_suffix(".py").exists() or (PACKAGE / top).exists()):
                missing.append(top)
            if top.endswith("/"):
                files = {path.relative_to(base).as_posix() for path in base.rglob("*")}
                files |= {Path(name).name for name in files}
                missing += [f"{top}{name}" for name in _named(holds)  # (a URL path such as `/api/` is none)
                            if not name.startswith("/") and name.strip("/") not in files
                            and not (PACKAGE / name).exists()]
    text = DOC.read_text("utf-8")
    packages = "|".join(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists())
    for path in re.findall(rf"`((?:{packages})/[\w/]+\.py)`", text):  # in the prose below the table too
        if not (PACKAGE / path).exists():
            missing.append(path)
    for path in ("deploy/nginx.conf", "benchmarks/"):
        assert f"`{path}`" in text and (ROOT / path).exists(), path
    assert not missing, missing


def test_every_package_and_module_is_on_the_map() -> None:
    layers = _layers()
    tops = {path.stem for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__")}
    tops |= {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert sorted(tops - set(layers)) == []
    text = DOC.read_text("utf-8")
    subpackages = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("__init__.py")
                   if PACKAGE not in (path.parent, path.parent.parent) and "migrations" not in path.parts]
    assert [name for name in subpackages if f"`{Path(name).parent.name}/`" not in text] == []


def test_imports_point_down_the_layers() -> None:
    layers = _layers()
    order = list(dict.fromkeys(layer for layer, _, _ in _rows()))

    def rank(module: str) -> int | None:
        parts = module.split(".")
        layer = layers.get(parts[1]) if parts[0] == "publisher" and len(parts) > 1 else None
        return None if layer is None else order.index(layer)

    upward = []
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts or path.name == "__main__.py":
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        mine = rank(module)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            imported = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                        [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in imported:
                theirs = rank(name)
                if mine is not None and theirs is not None and theirs < mine:
                    upward.append(f"{module} -> {name}")
    assert len(order) >= 5 and upward == [], upward


# The leader lock is a PostgreSQL session lock: its commits end the lock's transactions, not a write.
_LOCKS_ONLY = {"publisher/run/leader.py"}


def test_entry_points_write_only_through_use_cases() -> None:
    """Every write enters through a use case in jobs/: no module of the entry points opens a
    transaction or commits one of its own."""
    entry = [name for name, layer in _layers().items() if layer == "entry points"]
    own = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if path.relative_to(PACKAGE).parts[0] not in entry or relative in _LOCKS_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("begin", "commit", "begin_nested")):
                own.append(f"{relative}:{node.lineno} .{node.func.attr}()")
    assert entry and own == [], own
