"""Benchmark: whole-process time to synthesize the full app (every environment, cdk-nag on) against an empty CDK app.

Both run in the same session, interleaved, several times; prints medians, the ratio (target <= 2.0) and JSON.
Usage: python scripts/bench_synth.py [repetitions]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

EMPTY_APP = "from aws_cdk import App; App().synth()"
TARGET_RATIO = 2.0


def timed(command: list[str], outdir: str) -> float:
    env = {**os.environ, "CDK_OUTDIR": outdir}
    env.pop("ENV", None)  # always the full app
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(repetitions: int = 5) -> int:
    full, empty = [], []
    for run in range(1, repetitions + 1):
        with tempfile.TemporaryDirectory() as out_full, tempfile.TemporaryDirectory() as out_empty:
            empty.append(timed([sys.executable, "-c", EMPTY_APP], out_empty))
            full.append(timed([sys.executable, "app.py"], out_full))
        print(f"run {run}/{repetitions}: empty app {empty[-1]:.2f} s, full app {full[-1]:.2f} s", flush=True)
    result = {
        "repetitions": repetitions,
        "empty_app_median_s": round(statistics.median(empty), 3),
        "full_app_median_s": round(statistics.median(full), 3),
        "ratio": round(statistics.median(full) / statistics.median(empty), 2),
        "target_ratio": TARGET_RATIO,
    }
    print(f"\n{'':24}{'median (s)':>12}")
    print(f"{'empty CDK app':24}{result['empty_app_median_s']:>12.2f}")
    print(f"{'full app, all envs, nag':24}{result['full_app_median_s']:>12.2f}")
    verdict = "within" if result["ratio"] <= TARGET_RATIO else "OVER"
    print(f"ratio full/empty: {result['ratio']:.2f} ({verdict} target {TARGET_RATIO})\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:])))
