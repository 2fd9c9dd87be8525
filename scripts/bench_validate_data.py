"""Time the schema validation of a large CSV: the seed rows repeated with fresh PassengerIds (all valid).

Usage: python -m scripts.bench_validate_data [ROWS] [REPS]   (or: make bench-validate-data ROWS=100000)
Prints the size, the median and best wall time of validate_csv_bytes over REPS runs, and the peak RSS.
"""

from __future__ import annotations

import csv
import io
import resource
import statistics
import sys
import time
from pathlib import Path

from ml.schema import validate_csv_bytes

SEED = Path(__file__).resolve().parent.parent / "data" / "titanic.csv"


def synthetic_csv(rows: int) -> bytes:
    table = list(csv.reader(io.StringIO(SEED.read_text(encoding="utf-8"))))
    header, seed_rows = table[0], table[1:]
    id_column = header.index("PassengerId")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for number in range(1, rows + 1):
        row = list(seed_rows[(number - 1) % len(seed_rows)])
        row[id_column] = str(number)
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def main(rows: int = 100_000, reps: int = 3) -> int:
    data = synthetic_csv(rows)
    timings = []
    for _ in range(reps):
        start = time.perf_counter()
        records, report = validate_csv_bytes(data)
        timings.append(time.perf_counter() - start)
        assert report.valid and len(records) == rows, report.summary()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"validate_csv_bytes: {rows} rows, {len(data) / 1e6:.1f} MB, {reps} runs: "
        f"median {statistics.median(timings):.2f} s, best {min(timings):.2f} s, peak RSS {peak_mb:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:])))
