"""Reading and writing passenger CSV files: validated on the way in, written whole or not at all on the way out."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml import schema


class InvalidData(Exception):
    """Input data broke the passenger contract; the message names files, rows, columns and reasons."""


def csv_files(location: str | os.PathLike) -> list[Path]:
    """A CSV file itself, or every *.csv directly inside a folder (sorted, so the order is reproducible)."""
    path = Path(location)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
        if files:
            return files
        raise InvalidData(f"{path}: no *.csv file in this folder")
    raise InvalidData(f"{path}: no such file or folder")


def read_records(
    location: str | os.PathLike, columns: Sequence[schema.Column] = schema.TRAINING_COLUMNS, max_problems: int = 20
) -> tuple[list[dict[str, Any]], str]:
    """Validated, typed records of every CSV at `location` and the sha256 of their bytes (in file order).

    Raises InvalidData listing up to `max_problems` problems per file when any file breaks the contract.
    """
    records: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    failures: list[str] = []
    for path in csv_files(location):
        data = path.read_bytes()
        digest.update(data)
        file_records, report = schema.validate_csv_bytes(data, columns, max_problems=max_problems)
        if report.valid:
            records.extend(file_records)
            continue
        lines = [f"{path}: {report.summary()}; problems by column: {report.counts()}"]
        lines += [f"  {problem}" for problem in report.problems]
        if report.truncated:
            lines.append(f"  ... more problems not listed (first {max_problems} shown)")
        failures.append("\n".join(lines))
    if failures:
        raise InvalidData("\n".join(failures))
    if any(column.name == schema.ID for column in columns):
        _check_unique_ids(records)
    return records, digest.hexdigest()


def _check_unique_ids(records: Iterable[Mapping[str, Any]]) -> None:
    """Each file is checked for duplicate ids by the schema; this catches an id repeated across files."""
    seen: set[int] = set()
    duplicates: set[int] = set()
    for record in records:
        passenger_id = record[schema.ID]
        if passenger_id in seen:
            duplicates.add(passenger_id)
        seen.add(passenger_id)
    if duplicates:
        shown = ", ".join(map(str, sorted(duplicates)[:20]))
        raise InvalidData(f"column {schema.ID}: ids appear in more than one file: {shown}")


def format_value(value: Any) -> str:
    """Canonical CSV text of a typed value: empty for null, repr for floats (round-trips exactly)."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def to_csv_bytes(records: Sequence[Mapping[str, Any]], columns: Sequence[schema.Column]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.name for column in columns])
    for record in records:
        writer.writerow([format_value(record[column.name]) for column in columns])
    return buffer.getvalue().encode("utf-8")


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old file or the new one, never half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
