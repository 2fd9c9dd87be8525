"""Phase 02: the local ML flow behind `make run`: the pipeline's steps on this machine, then serve and smoke-test.

DataPreProcessing -> TrainModel -> ModelEvaluation (the same ml/ scripts, with explicit local paths) -> quality
gate (threshold and margin over the gender rule from config/environments/<env>.toml, as the SageMaker condition;
ml/gates.py) -> champion check (the `champion` version scored on the same test split, ml/local/champion.py) ->
register in the local MLflow registry (pending approval; Rejected with the reason when the champion check refused
it) -> serve the registered model on a free loopback port -> smoke test over HTTP (ml/smoke.py) -> drift check on
simulated traffic (the test split sent to the server, captured in SageMaker's data-capture format, checked against
the model's baseline by ml/drift.py) -> summary table. The steps themselves are in ml/local/flow_steps.py.
Exit codes: 0 done, 2 invalid data, 3 a gate refused (quality: nothing registered; champion: registered as
Rejected), 4 smoke test failed, 5 registry unavailable, 6 drift found in the simulated traffic (or its capture
unreadable).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from config import load_environment
from ml.local import registry
from ml.local.flow_steps import (
    EXIT_DRIFT,
    EXIT_GATE,
    EXIT_INVALID_DATA,
    EXIT_REGISTRY,
    EXIT_SMOKE,
    FlowRun,
    Outcome,
    champion_step,
    drift_step,
    evaluate_step,
    gate_refusal,
    gate_step,
    preprocess_step,
    print_comparisons,
    register_refusal,
    register_step,
    serve_step,
    smoke_step,
    train_step,
)

DEFAULT_DATA = registry.REPO_ROOT / "data" / "titanic.csv"
SMOKE_FAILED = "smoke test FAILED: see the step line above"
DRIFT_FOUND = "drift check FAILED on the simulated traffic: see the table above the summary"


@dataclass(frozen=True)
class Step:
    """A named step. When it fails the flow prints the table and `explain` (stderr) and exits `exit_code` (or the
    Outcome's own); a `finish` step's failure lets the flow finish its report first."""

    name: str
    run: Callable[[FlowRun], Outcome]
    exit_code: int
    finish: bool = False
    explain: Callable[[FlowRun], str] | None = None


# In order; the [n/total] numbering is computed. A new step is one line here (and its function in flow_steps.py).
STEPS = (
    Step("DataPreProcessing", preprocess_step, EXIT_INVALID_DATA),
    Step("TrainModel", train_step, EXIT_INVALID_DATA),
    Step("ModelEvaluation", evaluate_step, EXIT_INVALID_DATA),
    Step("quality gate", gate_step, EXIT_GATE, explain=gate_refusal),
    Step("champion check", champion_step, EXIT_REGISTRY),
    Step("register (MLflow)", register_step, EXIT_REGISTRY, explain=register_refusal),
    Step("serve on loopback", serve_step, EXIT_SMOKE),
    Step("smoke test over HTTP", smoke_step, EXIT_SMOKE, finish=True, explain=lambda run: SMOKE_FAILED),
    Step("drift check on simulated traffic", drift_step, EXIT_DRIFT, finish=True, explain=lambda run: DRIFT_FOUND),
)


@dataclass
class Summary:
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # (step, result, seconds)

    def step(self, number: int, total: int, step: Step, run: FlowRun) -> Outcome:
        print(f"[{number}/{total}] {step.name} ...", flush=True)
        start = time.perf_counter()
        outcome = step.run(run)
        seconds = time.perf_counter() - start
        self.steps.append((step.name, outcome.detail, seconds))
        print(f"[{number}/{total}] {step.name}: {outcome.detail} ({seconds:.2f} s)", flush=True)
        return outcome

    def table(self) -> str:
        rows = [("step", "result", "time (s)")] + [(n, r, f"{s:.2f}") for n, r, s in self.steps]
        rows.append(("total", "", f"{sum(s for _, _, s in self.steps):.2f}"))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev", help="environment whose quality gate applies (config/environments)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="raw CSV file or folder")
    parser.add_argument("--work-dir", default=str(registry.LOCAL_DIR / "run"), help="splits, model, evaluation")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threshold", type=float, help="override the environment's gate threshold (tests)")
    parser.add_argument("--baseline-margin", type=float, help="override the environment's baseline margin (tests)")
    return parser.parse_args(argv)


def report(run: FlowRun, summary: Summary) -> None:
    registered = run.registered
    print()
    print(summary.table())
    print()
    print("test metrics: " + ", ".join(f"{name} {v:.3f}" for name, v in run.evaluation.values.items()))
    print_comparisons(run)
    print(
        f"registry: {registry.tracking_uri()} -> {registered.name} v{registered.version}, "
        f"{registry.APPROVAL_TAG}={registered.approval_status} (make approve / make reject)"
    )


def explain(step: Step, run: FlowRun) -> None:
    text = step.explain(run) if step.explain is not None else ""
    if text:
        print(text, file=sys.stderr)


def run(args: argparse.Namespace, steps: Sequence[Step] = STEPS) -> int:
    settings = load_environment(args.env)
    ml = settings.ml
    summary = Summary()
    failed: list[tuple[Step, Outcome]] = []  # `finish` steps that failed
    with ExitStack() as cleanup:
        flow_run = FlowRun(
            args=args,
            settings=settings,
            threshold=ml.quality_threshold if args.threshold is None else args.threshold,
            baseline_margin=ml.baseline_margin if args.baseline_margin is None else args.baseline_margin,
            cleanup=cleanup,
        )
        for number, step in enumerate(steps, start=1):
            outcome = summary.step(number, len(steps), step, flow_run)
            if outcome.passed:
                continue
            if not step.finish:
                print(summary.table())
                explain(step, flow_run)
                return outcome.exit_code or step.exit_code
            failed.append((step, outcome))
    report(flow_run, summary)
    for step, _ in failed:
        explain(step, flow_run)
    return (failed[0][1].exit_code or failed[0][0].exit_code) if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
