"""Phase 01: validate a local CSV file against the passenger schema (ml/schema.py), exactly as the Lambda does.

Usage: python -m scripts.validate_data FILE   (or: make validate-data FILE=path)
Exit 0 with a one-line summary when valid; exit 1 with the list of problems when not; exit 2 when FILE cannot be
read. The file is only read, never modified.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ml.schema import validate_csv_bytes


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m scripts.validate_data FILE", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror or error}", file=sys.stderr)
        return 2
    _, report = validate_csv_bytes(data)
    if report.valid:
        print(f"{path}: {report.summary()}")
        return 0
    print(f"{path}: {report.summary()}", file=sys.stderr)
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    by_column = ", ".join(f"{column}: {count}" for column, count in sorted(report.counts().items()))
    print(f"problems by column: {by_column}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
