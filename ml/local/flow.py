"""Phase 02: the local ML flow behind `make run`: the pipeline's steps on this machine, then serve and smoke-test.

DataPreProcessing -> TrainModel -> ModelEvaluation (the same ml/ scripts, with explicit local paths) -> quality
gate (metric and threshold from config/environments/<env>.toml, as the SageMaker condition) -> register in the
local MLflow registry (pending approval) -> serve the registered model on a free loopback port -> smoke test over
HTTP (ml/smoke.py) -> drift check on simulated traffic (the test split sent to the server, captured in SageMaker's
data-capture format, checked against the model's baseline by ml/drift.py) -> summary table.
Exit codes: 0 done, 2 invalid data, 3 gate refused, 4 smoke test failed, 5 registry unavailable, 6 drift found in the
simulated traffic (or its capture unreadable).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import EnvironmentConfig, load_environment
from ml import contracts, dataset, evaluate, inference, preprocess, smoke, train
from ml.local import capture, registry, server

EXIT_INVALID_DATA, EXIT_GATE, EXIT_SMOKE, EXIT_REGISTRY, EXIT_DRIFT = 2, 3, 4, 5, 6
SMOKE_LATENCY_BUDGET_MS = 250.0  # one request of 4 passengers over loopback, first request included
DEFAULT_DATA = registry.REPO_ROOT / "data" / "titanic.csv"


@dataclass(frozen=True)
class Outcome:
    """What a step reports: whether the flow may go on, and its result line."""

    passed: bool
    detail: str


@dataclass(frozen=True)
class Evaluation:
    """ModelEvaluation's results, as the later steps need them."""

    values: dict[str, float]  # the quality metrics on the test split, by name
    gender_baseline_accuracy: float
    scores: dict[str, float]  # the training run's own scores (metadata.json), None values dropped
    hyperparameters: dict[str, Any]
    model_sha256: str


@dataclass
class FlowRun:
    """One run of the flow: its inputs, and each step's typed result for the steps after it."""

    args: argparse.Namespace
    settings: EnvironmentConfig
    threshold: float
    cleanup: ExitStack  # what must stop when the steps are done (the loopback server)
    evaluation: Evaluation | None = None
    registered: registry.RegisteredVersion | None = None
    server: Any = None  # the loopback server (ml/local/server.py), while the steps run
    url: str = ""  # the loopback server's

    @property
    def work(self) -> Path:
        return Path(self.args.work_dir)

    @property
    def metric(self) -> str:
        return self.settings.ml.quality_metric


@dataclass(frozen=True)
class Step:
    """A named step. When it fails the flow prints the table and `explain` (stderr) and exits `exit_code`; a
    `finish` step's failure lets the flow finish its report first."""

    name: str
    run: Callable[[FlowRun], Outcome]
    exit_code: int
    finish: bool = False
    explain: Callable[[FlowRun], str] | None = None


@dataclass
class Summary:
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # (step, result, seconds)

    def step(self, number: int, total: int, step: Step, run: FlowRun) -> bool:
        print(f"[{number}/{total}] {step.name} ...", flush=True)
        start = time.perf_counter()
        outcome = step.run(run)
        seconds = time.perf_counter() - start
        self.steps.append((step.name, outcome.detail, seconds))
        print(f"[{number}/{total}] {step.name}: {outcome.detail} ({seconds:.2f} s)", flush=True)
        return outcome.passed

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
    return parser.parse_args(argv)


def smoke_test(url: str) -> tuple[bool, str, dict[str, Any]]:
    """GET /ping, then the shared smoke request (ml/smoke.py) over HTTP."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/ping")
        ping = connection.getresponse()
        ping.read()
        if ping.status != 200:
            return False, f"GET /ping returned {ping.status}", {}
        start = time.perf_counter()
        connection.request(
            "POST", "/invocations", smoke.smoke_request_body(), {"Content-Type": contracts.JSON_CONTENT_TYPE}
        )
        response = connection.getresponse()
        body = response.read()
        latency_ms = (time.perf_counter() - start) * 1000
    except OSError as error:  # e.g. no loopback interface in a sandbox
        return False, f"FAILED: cannot reach {url}: {error}", {}
    finally:
        connection.close()
    result = smoke.check_response(response.status, body, latency_ms, SMOKE_LATENCY_BUDGET_MS)
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.passed]
    detail = "; ".join(failed) if failed else f"ping ok, {len(result.checks)} checks passed, {latency_ms:.1f} ms"
    return result.passed, detail, result.to_dict()


# ---------------------------------------------------------------------------------------------- the steps
def _script(main: Callable[[list[str]], int], argv: list[str]) -> Outcome:
    code = main(argv)
    return Outcome(code == 0, "ok" if code == 0 else f"FAILED (exit {code}, see the message above)")


def preprocess_step(run: FlowRun) -> Outcome:
    argv = ["--input-dir", run.args.data, "--output-dir", str(run.work / "splits"), "--seed", str(run.args.seed)]
    return _script(preprocess.main, argv)


def train_step(run: FlowRun) -> Outcome:
    splits = run.work / "splits"
    argv = ["--train", str(splits / "train"), "--validation", str(splits / "validation")]
    return _script(train.main, [*argv, "--model-dir", str(run.work / "model"), "--seed", str(run.args.seed)])


def evaluate_step(run: FlowRun) -> Outcome:
    model_dir, evaluation_dir = run.work / "model", run.work / "evaluation"
    argv = ["--model-dir", str(model_dir), "--test-dir", str(run.work / "splits" / "test")]
    outcome = _script(evaluate.main, [*argv, "--output-dir", str(evaluation_dir)])
    if outcome.passed:
        report = json.loads((evaluation_dir / contracts.EVALUATION_FILE).read_text())
        metadata = json.loads((model_dir / contracts.METADATA_FILE).read_text())
        run.evaluation = Evaluation(
            values={name: report[contracts.METRICS_SECTION][name]["value"] for name in contracts.QUALITY_METRICS},
            gender_baseline_accuracy=report["test_data"]["gender_baseline_accuracy"],
            scores={k: v for k, v in metadata["scores"].items() if v is not None},
            hyperparameters=metadata["hyperparameters"],
            model_sha256=metadata["model_sha256"],
        )
    return outcome


def gate_step(run: FlowRun) -> Outcome:
    """The SageMaker pipeline's quality condition, with the environment's metric and threshold."""
    value = run.evaluation.values[run.metric]
    passed = value >= run.threshold
    verdict = "passed" if passed else "REFUSED: the model is not registered"
    comparison = ">=" if passed else "<"
    return Outcome(passed, f"{run.metric} {value:.3f} {comparison} {run.threshold:g} ({run.args.env}): {verdict}")


def gate_refusal(run: FlowRun) -> str:
    value = run.evaluation.values[run.metric]
    return (
        f"\nquality gate refused the model: {run.metric} {value:.4f} is below {run.threshold:g} (config/environments/"
        f"{run.args.env}.toml [ml]); nothing was registered."
    )


def register_step(run: FlowRun) -> Outcome:
    evaluation = run.evaluation
    _, data_sha = dataset.read_records(run.args.data)  # the sha256 of the raw file(s), as DataPreProcessing saw them
    try:
        registered = registry.register(
            model_dir=run.work / "model",
            evaluation_dir=run.work / "evaluation",
            metrics={**evaluation.values, **evaluation.scores},
            params=evaluation.hyperparameters,
            tags={
                "dataset": f"{Path(run.args.data).name}@sha256:{data_sha[:12]}",
                "env": run.args.env,
                "purpose": "local-flow",
                "owner": run.settings.owner,
                "model_sha256": evaluation.model_sha256,
            },
            seed=run.args.seed,
        )
    except Exception as error:  # an unreachable or broken tracking store: say so instead of a traceback
        return Outcome(False, f"FAILED: {type(error).__name__}: {error} (store: {registry.tracking_uri()})")
    run.registered = registered
    return Outcome(
        True, f"{registered.name} v{registered.version} ({registered.approval_status}) in {registered.experiment}"
    )


def serve_step(run: FlowRun) -> Outcome:
    model = inference.model_fn(str(registry.model_path(run.registered)))
    running, _ = server.start_in_thread(model)
    run.cleanup.callback(running.server_close)
    run.cleanup.callback(running.shutdown)  # callbacks run last-in first-out: shutdown, then close
    run.server, run.url = running, running.url
    return Outcome(True, f"{running.url} (model v{run.registered.version} from the registry)")


def smoke_step(run: FlowRun) -> Outcome:
    passed, detail, _ = smoke_test(run.url)
    return Outcome(passed, detail)


def drift_step(run: FlowRun) -> Outcome:
    """The monitor end to end: the test split as traffic, captured like SageMaker captures it, checked like the
    scheduled drift job checks it (docs/06-observability-operations.md)."""
    splits = run.work / "splits"
    passed, detail = capture.simulate_and_check(
        run.server,
        splits / "test",
        registry.model_path(run.registered),
        run.settings.monitoring,
        run.work / "capture",
    )
    return Outcome(passed, detail)


# In order; the [n/total] numbering is computed. A new step is one line here (and its function above).
STEPS = (
    Step("DataPreProcessing", preprocess_step, EXIT_INVALID_DATA),
    Step("TrainModel", train_step, EXIT_INVALID_DATA),
    Step("ModelEvaluation", evaluate_step, EXIT_INVALID_DATA),
    Step("quality gate", gate_step, EXIT_GATE, explain=gate_refusal),
    Step("register (MLflow)", register_step, EXIT_REGISTRY),
    Step("serve on loopback", serve_step, EXIT_SMOKE),
    Step("smoke test over HTTP", smoke_step, EXIT_SMOKE, finish=True, explain=lambda run: SMOKE_FAILED),
    Step("drift check on simulated traffic", drift_step, EXIT_DRIFT, finish=True, explain=lambda run: DRIFT_FOUND),
)
SMOKE_FAILED = "smoke test FAILED: see the step line above"
DRIFT_FOUND = "drift check FAILED on the simulated traffic: see the table above the summary"


def report(run: FlowRun, summary: Summary) -> None:
    evaluation, registered = run.evaluation, run.registered
    print()
    print(summary.table())
    print()
    print("test metrics: " + ", ".join(f"{name} {v:.3f}" for name, v in evaluation.values.items()))
    print(f"gender-only baseline on the same test split: {evaluation.gender_baseline_accuracy:.3f}")
    print(
        f"registry: {registry.tracking_uri()} -> {registered.name} v{registered.version}, "
        f"{registry.APPROVAL_TAG}={registered.approval_status} (make approve / make reject)"
    )


def run(args: argparse.Namespace, steps: Sequence[Step] = STEPS) -> int:
    settings = load_environment(args.env)
    threshold = settings.ml.quality_threshold if args.threshold is None else args.threshold
    summary = Summary()
    failed: list[Step] = []  # `finish` steps that failed
    with ExitStack() as cleanup:
        flow_run = FlowRun(args=args, settings=settings, threshold=threshold, cleanup=cleanup)
        for number, step in enumerate(steps, start=1):
            if summary.step(number, len(steps), step, flow_run):
                continue
            if not step.finish:
                print(summary.table())
                if step.explain is not None:
                    print(step.explain(flow_run), file=sys.stderr)
                return step.exit_code
            failed.append(step)
    report(flow_run, summary)
    for step in failed:
        if step.explain is not None:
            print(step.explain(flow_run), file=sys.stderr)
    return failed[0].exit_code if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
