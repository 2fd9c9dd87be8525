"""The seed CSV and every broken variant the data phase must reject, shared by the Lambda and CLI tests.

Each variant is (name, bytes, expected problem): the problem is (row, column, reason substring) as ml/schema.py
reports it. Built from data/titanic.csv so a variant differs from the good file in exactly one way.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import NamedTuple

SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "titanic.csv"
SEED_BYTES = SEED_FILE.read_bytes()
SEED_ROWS = 891


class Expected(NamedTuple):
    row: int | None
    column: str | None
    reason: str


def _table() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(SEED_BYTES.decode("utf-8"))))
    return rows[0], rows[1:]


def _write(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue().encode("utf-8")


def _with_value(row: int, column: str, value: str) -> bytes:
    header, rows = _table()
    rows[row - 1][header.index(column)] = value
    return _write(header, rows)


def _without_column(column: str) -> bytes:
    header, rows = _table()
    index = header.index(column)
    return _write(
        [h for i, h in enumerate(header) if i != index], [[v for i, v in enumerate(r) if i != index] for r in rows]
    )


def _duplicate_id(row: int, of_row: int) -> bytes:
    header, rows = _table()
    column = header.index("PassengerId")
    rows[row - 1][column] = rows[of_row - 1][column]
    return _write(header, rows)


BROKEN_VARIANTS: dict[str, tuple[bytes, Expected]] = {
    "missing_column": (_without_column("Sex"), Expected(None, "Sex", "required column is missing")),
    "wrong_type": (_with_value(1, "Age", "twenty"), Expected(1, "Age", "expected a number")),
    "pclass_out_of_range": (_with_value(3, "Pclass", "4"), Expected(3, "Pclass", "4 is not an allowed value")),
    "survived_out_of_range": (_with_value(2, "Survived", "2"), Expected(2, "Survived", "2 is not an allowed value")),
    "unknown_category": (_with_value(4, "Embarked", "X"), Expected(4, "Embarked", "'X' is not an allowed value")),
    "duplicate_passenger_id": (_duplicate_id(5, 1), Expected(5, "PassengerId", "duplicate PassengerId 1")),
    "header_only": (SEED_BYTES.split(b"\n", 1)[0] + b"\n", Expected(None, None, "no data rows")),
    "empty_file": (b"", Expected(None, None, "the file is empty")),
    "binary_garbage": (random.Random(7).randbytes(4096), Expected(None, None, "not UTF-8 text")),  # noqa: S311
}
