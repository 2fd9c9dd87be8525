"""Size limits of the source code (tests aside): no module over 350 lines, no function over 90.

A module or function may exceed its limit only with a marker comment giving the reason, `# size-exception: <why
splitting would hurt reading>`, on its `def` line (a function) or as a comment line among its first five lines (a
module), AND an entry with the same reason in `EXCEPTIONS` below. A marker without its entry, or an entry without
its marker, fails: no exception is added, or outlives its reason, silently.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app.py", "config", "stacks", "constructs", "ml", "lambdas", "scripts")
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 90
MARKER = re.compile(r"#\s*size-exception:\s*(?P<reason>.+?)\s*$")
MIN_REASON_LENGTH = 30

# "path" (a module) or "path::Qualified.name" (a function) -> the reason its marker gives. Empty: none needed.
EXCEPTIONS: dict[str, str] = {}


@dataclass(frozen=True)
class Oversized:
    key: str  # as in EXCEPTIONS
    lines: int
    limit: int
    marker: str | None  # the reason of its marker comment, if any


def measure(path: Path, relative: str) -> tuple[list[Oversized], dict[str, str]]:
    """The module's oversized pieces, and every size-exception marker it carries ({key: reason})."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    markers: dict[str, str] = {}
    for line in lines[:5]:
        if line.lstrip().startswith("#") and (match := MARKER.search(line)):
            markers[relative] = match["reason"]
    oversized = []
    if len(lines) > MAX_MODULE_LINES:
        oversized.append(Oversized(relative, len(lines), MAX_MODULE_LINES, markers.get(relative)))

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                key = f"{relative}::{prefix}{child.name}"
                if match := MARKER.search(lines[child.lineno - 1]):
                    markers[key] = match["reason"]
                length = child.end_lineno - child.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    oversized.append(Oversized(key, length, MAX_FUNCTION_LINES, markers.get(key)))
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(text), "")
    return oversized, markers


def source_files(root: Path = ROOT) -> list[tuple[Path, str]]:
    files = []
    for name in SOURCES:
        path = root / name
        found = [path] if path.is_file() else sorted(path.rglob("*.py"))
        files += [(file, file.relative_to(root).as_posix()) for file in found if "__pycache__" not in file.parts]
    return files


def scan(root: Path = ROOT) -> tuple[list[Oversized], dict[str, str]]:
    oversized, markers = [], {}
    for path, relative in source_files(root):
        found, marked = measure(path, relative)
        oversized += found
        markers.update(marked)
    return oversized, markers


def test_the_scan_reads_every_source_folder():
    scanned = {relative.split("/", 1)[0] for _, relative in source_files()}
    assert scanned == set(SOURCES)


def test_no_module_or_function_over_its_limit_without_a_listed_exception():
    oversized, _ = scan()
    unexplained = [f"{o.key}: {o.lines} lines (limit {o.limit})" for o in oversized if o.key not in EXCEPTIONS]
    assert unexplained == [], "split these, or mark and list an exception (see this file's docstring)"


def test_every_exception_is_both_marked_and_listed_with_the_same_reason():
    oversized, markers = scan()
    assert markers == EXCEPTIONS
    assert all(len(reason) >= MIN_REASON_LENGTH for reason in EXCEPTIONS.values())
    still_needed = {o.key for o in oversized}
    assert set(EXCEPTIONS) <= still_needed, "an exception whose code is now within the limit: remove it"


@pytest.mark.parametrize("marker", ["", "  # size-exception: one table of every AWS region's endpoints, read top down"])
def test_the_scan_finds_an_oversized_function_and_its_marker(tmp_path, marker):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "long.py").write_text(f"def long():{marker}\n{body}\n")
    oversized, markers = scan(tmp_path)
    assert [(o.key, o.lines) for o in oversized] == [("scripts/long.py::long", MAX_FUNCTION_LINES + 1)]
    assert markers == ({"scripts/long.py::long": marker.split(": ", 1)[1]} if marker else {})
