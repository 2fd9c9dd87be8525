"""Benchmark: whole-process time to synthesize the full app (every environment, cdk-nag on) against an empty CDK app
(as CDK builds it by default, and with the built-in CloudFormation Validate off, as app.py builds the full app), with
the synthesis cache warm (the usual case) and off (SYNTH_CACHE=off: every definition built with the SDK), then where
the time goes, phase by phase (scripts/synth_phases.py).

The four commands run interleaved in the same session, several times, after one uncounted warm-up that fills the
cache; prints medians, the ratios full/empty against both empty apps (target <= 2.0), the per-phase breakdown, JSON.
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
from pathlib import Path

# Python as `make synth` and cdk.json run app.py: -O skips the Python-side argument checks of jsii's bindings, ~1 s
# of a synthesis (the jsii kernel still rejects an argument of the wrong type; the test suite builds the app with
# the checks on). The empty apps run the same way, so the ratios compare like with like.
PYTHON = [sys.executable, "-O"]
EMPTY_APP = "from aws_cdk import App; App().synth()"
# The same empty app with CDK's built-in CloudFormation Validate off, as app.py runs: building that engine is most of
# what an empty app costs (docs/00-foundations.md), so the full app is compared with both.
EMPTY_APP_AS_OURS = "from aws_cdk import App; App(builtin_cloud_formation_validation=False).synth()"
TARGET_RATIO = 2.0
PHASES = str(Path(__file__).resolve().parent / "synth_phases.py")
COMMANDS = {
    "empty CDK app": ([*PYTHON, "-c", EMPTY_APP], {}),
    "empty, validation off": ([*PYTHON, "-c", EMPTY_APP_AS_OURS], {}),
    "full app, cache warm": ([*PYTHON, "app.py"], {}),
    "full app, cache off": ([*PYTHON, "app.py"], {"SYNTH_CACHE": "off"}),
}


def _environment(extra: dict[str, str], outdir: str) -> dict[str, str]:
    env = {**os.environ, "CDK_OUTDIR": outdir, **extra}
    env.pop("ENV", None)  # always the full app
    return env


def timed(command: list[str], extra: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        start = time.perf_counter()
        run = subprocess.run(command, env=_environment(extra, outdir), capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if run.returncode != 0:  # CDK's "Bundling asset ..." lines go to stderr: shown only when something failed
        sys.exit(f"{' '.join(command)} failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return seconds


def phases(extra: dict[str, str], *flags: str, python: list[str] = PYTHON) -> dict:
    with tempfile.TemporaryDirectory() as outdir:
        run = subprocess.run(
            [*python, PHASES, outdir, *flags],
            check=True,
            env=_environment(extra, outdir),
            capture_output=True,
            text=True,
        )
    return json.loads(run.stdout.strip().splitlines()[-1])


def breakdown() -> dict[str, dict[str, float]]:
    """One instrumented synthesis each: cache warm, cache warm without cdk-nag, cache warm without -O, cache off."""
    warm, no_nag, cold = phases({}), phases({}, "--no-nag"), phases({"SYNTH_CACHE": "off"})
    checked = phases({}, python=[sys.executable])  # without -O: jsii's Python-side argument checks on
    synth_key = "app.synth(): nag, template and asset writing"
    table = {"cache warm": dict(warm["phases"]), "cache off": dict(cold["phases"])}
    # Differences of two runs: on a loaded machine one can come out negative, and is printed as it came out.
    nag = warm["phases"][synth_key] - no_nag["phases"][synth_key]
    table["cache warm"]["cdk-nag: synth with minus without"] = round(nag, 3)
    checks = checked["phases"]["construct tree"] - warm["phases"]["construct tree"]
    table["cache warm"]["jsii argument checks: tree without -O minus with"] = round(checks, 3)
    for column, run in (("cache warm", warm), ("cache off", cold)):
        for phase, count in run["jsii_calls"].items():
            table[column][f"jsii kernel calls: {phase}"] = count
    table["cache warm"]["SDK imported"] = warm["sdk_imported"]
    table["cache off"]["SDK imported"] = cold["sdk_imported"]
    return table


def print_breakdown(table: dict[str, dict]) -> None:
    rows = list(dict.fromkeys([*table["cache off"], *table["cache warm"]]))
    print(f"\n{'phase (one instrumented run each)':48}{'cache warm':>12}{'cache off':>12}")
    for row in rows:
        cells = [table[column].get(row, "") for column in ("cache warm", "cache off")]
        shown = [f"{c:.2f}" if isinstance(c, float) else str(c) for c in cells]
        print(f"{row:48}{shown[0]:>12}{shown[1]:>12}")


def main(repetitions: int = 5) -> int:
    for command, extra in COMMANDS.values():
        timed(command, extra)  # warm-up, not counted: fills the cache and the OS file cache
    seconds: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for run in range(1, repetitions + 1):
        for label, (command, extra) in COMMANDS.items():
            seconds[label].append(timed(command, extra))
        print(f"run {run}/{repetitions}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items()), flush=True)
    medians = {label: statistics.median(values) for label, values in seconds.items()}
    empty, empty_as_ours = medians["empty CDK app"], medians["empty, validation off"]
    full = medians["full app, cache warm"]
    result = {
        "repetitions": repetitions,
        "empty_app_median_s": round(empty, 3),
        "empty_app_validation_off_median_s": round(empty_as_ours, 3),
        "full_app_median_s": round(full, 3),
        "full_app_cache_off_median_s": round(medians["full app, cache off"], 3),
        "ratio": round(full / empty, 2),
        "ratio_same_settings": round(full / empty_as_ours, 2),
        "ratio_cache_off": round(medians["full app, cache off"] / empty, 2),
        "target_ratio": TARGET_RATIO,
    }
    print(f"\n{'':24}{'median (s)':>12}{'/ empty':>10}")
    for label, median in medians.items():
        print(f"{label:24}{median:>12.2f}{median / empty:>10.2f}")
    for name, key in (("an empty CDK app", "ratio"), ("an empty app with validation off", "ratio_same_settings")):
        verdict = "within" if result[key] <= TARGET_RATIO else "OVER"
        print(f"ratio full (cache warm) / {name}: {result[key]:.2f} ({verdict} target {TARGET_RATIO})")
    result["phases_s"] = breakdown()
    print_breakdown(result["phases_s"])
    print()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:])))
