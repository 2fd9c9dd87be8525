"""Phase 01 (also read by phase 02): the raw passenger contract: the one definition of what a valid Titanic record is.

Used by preprocessing (training data), by inference (request payloads) and by the data-validation
Lambda (objects landing in the raw area). Nothing else may restate these rules.

Pure Python on purpose: it runs unchanged on the SageMaker scikit-learn 1.2-1 container (Python 3.9),
in a Lambda without pandas, and on the inference hot path where a DataFrame would cost milliseconds.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LABEL = "Survived"
ID = "PassengerId"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "int", "float", "str" or "category"
    nullable: bool = False
    allowed: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: Any) -> Any:
        """Return the typed value of `raw` (a CSV string or a JSON value) or raise ValueError with the reason."""
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if self.nullable:
                return None
            raise ValueError("is required but empty")
        if self.kind == "int":
            value: Any = _to_int(raw)
        elif self.kind == "float":
            value = _to_float(raw)
        else:
            if not isinstance(raw, str):
                raise ValueError(f"expected text, got {type(raw).__name__} {raw!r}")
            value = raw.strip()
        if self.allowed and value not in self.allowed:
            allowed = ", ".join(str(item) for item in self.allowed)
            raise ValueError(f"{value!r} is not an allowed value ({allowed})")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{value} is below the minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{value} is above the maximum {self.maximum:g}")
        return value


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected an integer, got boolean {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number.is_integer():
            return int(number)
    raise ValueError(f"expected an integer, got {raw!r}")


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"expected a number, got boolean {raw!r}")
    if isinstance(raw, (int, float)):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    else:
        raise ValueError(f"expected a number, got {type(raw).__name__} {raw!r}")
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return number


# Column order of the Kaggle training file. PassengerId is optional at inference time (see INFERENCE_COLUMNS).
TRAINING_COLUMNS: tuple[Column, ...] = (
    Column(ID, "int", minimum=1),
    Column(LABEL, "int", allowed=(0, 1)),
    Column("Pclass", "int", allowed=(1, 2, 3)),
    Column("Name", "str"),
    Column("Sex", "category", allowed=("male", "female")),
    Column("Age", "float", nullable=True, minimum=0, maximum=120),
    Column("SibSp", "int", minimum=0, maximum=20),
    Column("Parch", "int", minimum=0, maximum=20),
    Column("Ticket", "str"),
    Column("Fare", "float", nullable=True, minimum=0, maximum=10000),
    Column("Cabin", "str", nullable=True),
    Column("Embarked", "category", nullable=True, allowed=("C", "Q", "S")),
)
COLUMNS_BY_NAME: dict[str, Column] = {column.name: column for column in TRAINING_COLUMNS}

# What a caller sends to the model: every raw column but the label. This is also the documented
# column order of `text/csv` inference rows. PassengerId may be omitted or null.
INFERENCE_COLUMNS: tuple[Column, ...] = tuple(
    Column(c.name, c.kind, True, c.allowed, c.minimum, c.maximum) if c.name == ID else c
    for c in TRAINING_COLUMNS
    if c.name != LABEL
)
INFERENCE_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in INFERENCE_COLUMNS)


@dataclass(frozen=True)
class Problem:
    row: int | None  # 1-based data row (the header is row 0); None for file-level problems
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


@dataclass
class ValidationReport:
    rows_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False  # True when more problems existed than were kept

    @property
    def valid(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problems per column (file-level problems count under '<file>')."""
        return dict(Counter(problem.column or "<file>" for problem in self.problems))

    def summary(self) -> str:
        if self.valid:
            return f"valid: {self.rows_checked} rows, {len(TRAINING_COLUMNS)} columns, 0 problems"
        more = " (list truncated)" if self.truncated else ""
        return f"invalid: {len(self.problems)} problems in {self.rows_checked} rows{more}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "rows_checked": self.rows_checked,
            "problem_count": len(self.problems),
            "truncated": self.truncated,
            "problems_by_column": self.counts(),
            "problems": [{"row": p.row, "column": p.column, "reason": p.reason} for p in self.problems],
        }


def parse_record(
    record: Mapping[str, Any], columns: Sequence[Column] = INFERENCE_COLUMNS
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Type one record against `columns`. Returns (typed values, [(column, reason), ...])."""
    values: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for column in columns:
        if column.name not in record:
            if column.nullable:
                values[column.name] = None
            else:
                errors.append((column.name, "is missing"))
            continue
        try:
            values[column.name] = column.parse(record[column.name])
        except ValueError as error:
            errors.append((column.name, str(error)))
    return values, errors


def validate_rows(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    columns: Sequence[Column] = TRAINING_COLUMNS,
    max_problems: int = 1000,
) -> tuple[list[dict[str, Any]], ValidationReport]:
    """Validate parsed CSV rows. Returns the typed records (only meaningful when the report is valid) and the report."""
    report = ValidationReport()

    def add(problem: Problem) -> None:
        if len(report.problems) < max_problems:
            report.problems.append(problem)
        else:
            report.truncated = True

    header = [name.strip() for name in header]
    expected = [column.name for column in columns]
    missing = [name for name in expected if name not in header]
    unknown = [name for name in header if name not in COLUMNS_BY_NAME]
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    for name in missing:
        add(Problem(None, name, "required column is missing from the header"))
    for name in unknown:
        add(Problem(None, name, "unknown column (not part of the passenger schema)"))
    for name in duplicated:
        add(Problem(None, name, "column appears more than once in the header"))
    if missing or unknown or duplicated:
        return [], report

    records: list[dict[str, Any]] = []
    first_row_of_id: dict[int, int] = {}
    number = 0
    for row in rows:
        if not row:  # a blank line (csv yields []), e.g. a doubled trailing newline: no data, as pandas skips it
            continue
        number += 1
        report.rows_checked = number
        if len(row) != len(header):
            add(Problem(number, None, f"has {len(row)} fields, the header has {len(header)}"))
            continue
        values, errors = parse_record(dict(zip(header, row)), columns)
        for column, reason in errors:
            add(Problem(number, column, reason))
        passenger_id = values.get(ID)
        if passenger_id is not None:
            if passenger_id in first_row_of_id:
                add(
                    Problem(
                        number,
                        ID,
                        f"duplicate PassengerId {passenger_id} (first seen in row {first_row_of_id[passenger_id]})",
                    )
                )
            else:
                first_row_of_id[passenger_id] = number
        records.append(values)
    if report.rows_checked == 0:
        add(Problem(None, None, "no data rows (header only)"))
    return records, report


def validate_csv_bytes(
    data: bytes, columns: Sequence[Column] = TRAINING_COLUMNS, max_problems: int = 1000
) -> tuple[list[dict[str, Any]], ValidationReport]:
    """Validate a whole CSV file given as bytes: decoding, header, every row."""
    if not data.strip():
        report = ValidationReport(problems=[Problem(None, None, "the file is empty")])
        return [], report
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [], ValidationReport(
            problems=[Problem(None, None, f"not UTF-8 text (undecodable byte at offset {error.start})")]
        )
    if "\x00" in text:
        return [], ValidationReport(problems=[Problem(None, None, "not a CSV text file (contains NUL bytes)")])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        return validate_rows(header, reader, columns, max_problems)
    except csv.Error as error:
        return [], ValidationReport(problems=[Problem(None, None, f"malformed CSV: {error}")])
