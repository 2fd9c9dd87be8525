"""How often the drift check alarms when nothing changed, and how long it takes (behind make bench-drift).

False alarms: data/titanic.csv is shuffled into a reference part (as many passengers as the train split) and a
disjoint "live" window of n passengers; both are samples of one population, so every alarm is a false one. The
baseline is built from the reference part with ml/baseline.py and the window judged with ml/drift.py, with an
environment's thresholds. Time: the committed capture fixtures repeated to RECORDS capture records, parsed and
checked in process (what one run of the monitor job does with one window).

CLI:  python -m ml.local.drift_calibration [--env dev] [--trials 300] [--records 10000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from config import load_environment
from ml import baseline, capture, dataset, drift, schema

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "titanic.csv"
FIXTURE = REPO / "tests" / "ml" / "fixtures" / "capture" / "similar"
REFERENCE_ROWS = 623  # the train split of make run


def false_alarm_rate(thresholds: drift.Thresholds, window: int, trials: int, seed: int) -> tuple[float, Counter]:
    records, _ = dataset.read_records(DATA)
    people = [{name: record[name] for name in schema.INFERENCE_COLUMN_NAMES} for record in records]
    rng = random.Random(seed)  # noqa: S311 - a reproducible shuffle, not a secret
    alarmed, by_feature = 0, Counter()
    for _ in range(trials):
        rng.shuffle(people)
        reference = baseline.build(people[:REFERENCE_ROWS], [0.5], 0.5, "reference")
        traffic = drift.Traffic(passengers=people[REFERENCE_ROWS : REFERENCE_ROWS + window])
        alarms = drift.judge(traffic, reference, thresholds)["alarms"]
        alarmed += bool(alarms)
        by_feature.update(alarms)
    return alarmed / trials, by_feature


def check_time(thresholds: drift.Thresholds, count: int, reference: dict) -> tuple[float, int, int]:
    lines = [line for path in sorted(FIXTURE.rglob("*.jsonl")) for line in path.read_text().splitlines(True)]
    text = "".join((lines * (count // len(lines) + 1))[:count])
    start = time.perf_counter()
    report = drift.check(capture.parse_lines(text, "repeated fixtures"), reference, thresholds)
    return time.perf_counter() - start, report["traffic"]["records"], len(text.encode("utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--records", type=int, default=10_000, help="capture records for the timing")
    args = parser.parse_args(argv)
    thresholds = drift.Thresholds.from_settings(load_environment(args.env).monitoring)
    print(f"thresholds ({args.env}): {thresholds}")
    print(f"\nwindows where nothing changed ({args.trials} trials each, reference {REFERENCE_ROWS} passengers)\n")
    print("  window   windows with an alarm   alarms by feature")
    for window in sorted({thresholds.min_records, 133, 250}):
        rate, by_feature = false_alarm_rate(thresholds, window, args.trials, seed=window)
        print(f"  {window:>6}   {rate:>21.3f}   {dict(by_feature) or '-'}")
    reference = baseline.build(dataset.read_records(DATA)[0][:REFERENCE_ROWS], [0.5], 0.5, "reference")
    seconds, records, size = check_time(thresholds, args.records, reference)
    window = f"{args.records} capture records ({records} passengers, {size / 1e6:.1f} MB)"
    print(f"\none window of {window} parsed and checked in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
