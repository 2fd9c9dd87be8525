"""`make validate-data FILE=...` (scripts/validate_data.py): exit 0 and one line for good data, non-zero and a readable
list of problems for every broken variant, never a change to the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.validate_data import main
from tests.broken_data import BROKEN_VARIANTS, SEED_FILE

ROOT = Path(__file__).resolve().parent.parent


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_mode


def test_the_seed_file_is_valid_in_one_line(capsys):
    before = fingerprint(SEED_FILE)
    assert main([str(SEED_FILE)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{SEED_FILE}: valid: 891 rows, 12 columns, 0 problems"]
    assert err == ""
    assert fingerprint(SEED_FILE) == before


@pytest.mark.parametrize("variant", sorted(BROKEN_VARIANTS))
def test_every_broken_variant_fails_with_its_problem_listed(tmp_path, capsys, variant):
    data, expected = BROKEN_VARIANTS[variant]
    path = tmp_path / f"{variant}.csv"
    path.write_bytes(data)
    before = fingerprint(path)

    assert main([str(path)]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}: invalid: ")
    where = "file" if expected.row is None else f"row {expected.row}"
    if expected.column:
        where += f", column {expected.column}"
    assert any(line.startswith(f"  {where}: ") and expected.reason in line for line in lines), err
    assert lines[-1].startswith("problems by column: ")
    assert fingerprint(path) == before


def test_an_unreadable_path_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_make_target_runs_the_same_check(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BROKEN_VARIANTS["survived_out_of_range"][0])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    good = subprocess.run(
        [sys.executable, "-m", "scripts.validate_data", str(SEED_FILE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    broken = subprocess.run(
        [sys.executable, "-m", "scripts.validate_data", str(bad)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert (good.returncode, broken.returncode) == (0, 1)
    assert "row 2, column Survived: 2 is not an allowed value" in broken.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert '$(PY) -m scripts.validate_data "$(FILE)"' in makefile


def test_blank_lines_are_not_data_rows(tmp_path, capsys):
    """ml/schema.py fix: a doubled trailing newline used to be reported as 'row 892: has 0 fields'."""
    path = tmp_path / "trailing.csv"
    path.write_bytes(SEED_FILE.read_bytes() + b"\n\n")
    assert main([str(path)]) == 0
    assert "valid: 891 rows" in capsys.readouterr().out
