"""Phase 02: the steps of the local ML flow (ml/local/flow.py runs them in order) and the run state they share.

Each step takes the FlowRun, records its typed result on it for the steps after it, and returns an Outcome: whether
the flow may go on, its result line, and (rarely) an exit code of its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import EnvironmentConfig
from ml import contracts, dataset, evaluate, gates, inference, preprocess, smoke, train
from ml.local import capture, champion, registry, server

EXIT_INVALID_DATA, EXIT_GATE, EXIT_SMOKE, EXIT_REGISTRY, EXIT_DRIFT = 2, 3, 4, 5, 6
SMOKE_LATENCY_BUDGET_MS = 250.0  # one request of 4 passengers over loopback, first request included


@dataclass(frozen=True)
class Outcome:
    """What a step reports: whether the flow may go on, its result line, and an exit code when the step's own
    (Step.exit_code) does not say what stopped the flow."""

    passed: bool
    detail: str
    exit_code: int | None = None


@dataclass(frozen=True)
class Evaluation:
    """ModelEvaluation's results, as the later steps need them."""

    report: dict[str, Any]  # evaluation.json
    values: dict[str, float]  # the quality metrics on the test split, by name
    scores: dict[str, float]  # the training run's own scores (metadata.json), None values dropped
    hyperparameters: dict[str, Any]
    model_sha256: str


@dataclass
class FlowRun:
    """One run of the flow: its inputs, and each step's typed result for the steps after it."""

    args: argparse.Namespace
    settings: EnvironmentConfig
    threshold: float
    baseline_margin: float
    cleanup: ExitStack  # what must stop when the steps are done (the loopback server)
    evaluation: Evaluation | None = None
    judged: champion.ChampionCheck | None = None
    registered: registry.RegisteredVersion | None = None
    server: Any = None  # the loopback server (ml/local/server.py), while the steps run
    url: str = ""  # the loopback server's

    @property
    def work(self) -> Path:
        return Path(self.args.work_dir)

    @property
    def metric(self) -> str:
        return self.settings.ml.quality_metric


# ---------------------------------------------------------------------------------------------- pipeline steps
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
            report=report,
            values={name: report[contracts.METRICS_SECTION][name]["value"] for name in contracts.QUALITY_METRICS},
            scores={k: v for k, v in metadata["scores"].items() if v is not None},
            hyperparameters=metadata["hyperparameters"],
            model_sha256=metadata["model_sha256"],
        )
    return outcome


# ---------------------------------------------------------------------------------------------- the two gates
def gate_step(run: FlowRun) -> Outcome:
    """The SageMaker pipeline's quality condition (ml/gates.py): the threshold and the margin over the gender rule."""
    quality = gates.quality_gate(run.evaluation.report, run.metric, run.threshold, run.baseline_margin)
    verdict = "passed" if quality.passed else "REFUSED: the model is not registered"
    return Outcome(quality.passed, f"{quality.reason} ({run.args.env}): {verdict}")


def gate_refusal(run: FlowRun) -> str:
    quality = gates.quality_gate(run.evaluation.report, run.metric, run.threshold, run.baseline_margin)
    return (
        f"\nquality gate refused the model: {quality.reason} (config/environments/{run.args.env}.toml [ml]); "
        "nothing was registered."
    )


def champion_step(run: FlowRun) -> Outcome:
    """The `champion` version scored on this run's test split (ml/local/champion.py); a refusal is acted on by the
    register step (the candidate is registered as Rejected, with the reason, and not served)."""
    try:
        run.judged = champion.check(
            run.evaluation.report,
            run.work / "splits" / "test",
            run.work / "champion-evaluation",
            run.metric,
            run.settings.ml.champion_tolerance,
        )
    except Exception as error:  # the store or the champion's artifacts are unusable: say so, not a traceback
        return Outcome(False, f"FAILED: {type(error).__name__}: {error} (store: {registry.tracking_uri()})")
    return Outcome(True, run.judged.summary)


def champion_refusal(run: FlowRun) -> str:
    print_comparisons(run)
    return f"\nchampion check refused the model: {run.judged.summary}"


# ---------------------------------------------------------------------------------------------- register, serve
def register_step(run: FlowRun) -> Outcome:
    evaluation, judged = run.evaluation, run.judged
    _, data_sha = dataset.read_records(run.args.data)  # the sha256 of the raw file(s), as DataPreProcessing saw them
    try:
        registered = registry.register(
            model_dir=run.work / "model",
            evaluation_dir=run.work / "evaluation",
            metrics={**evaluation.values, **evaluation.scores, **comparison_metrics(evaluation.report, judged)},
            params=evaluation.hyperparameters,
            tags={
                "dataset": f"{Path(run.args.data).name}@sha256:{data_sha[:12]}",
                "env": run.args.env,
                "purpose": "local-flow",
                "owner": run.settings.owner,
                "model_sha256": evaluation.model_sha256,
            },
            seed=run.args.seed,
            **registration_status(judged),
        )
    except Exception as error:  # an unreachable or broken tracking store: say so instead of a traceback
        return Outcome(False, f"FAILED: {type(error).__name__}: {error} (store: {registry.tracking_uri()})")
    run.registered = registered
    detail = f"{registered.name} v{registered.version} ({registered.approval_status}) in {registered.experiment}"
    # Registered, but refused by the champion check: the flow stops here with the gate's exit code, nothing served.
    return Outcome(judged.passed, detail, exit_code=None if judged.passed else EXIT_GATE)


def register_refusal(run: FlowRun) -> str:
    return champion_refusal(run) if run.registered is not None else ""


def serve_step(run: FlowRun) -> Outcome:
    model = inference.model_fn(str(registry.model_path(run.registered)))
    running, _ = server.start_in_thread(model)
    run.cleanup.callback(running.server_close)
    run.cleanup.callback(running.shutdown)  # callbacks run last-in first-out: shutdown, then close
    run.server, run.url = running, running.url
    return Outcome(True, f"{running.url} (model v{run.registered.version} from the registry)")


# ---------------------------------------------------------------------------------------------- checks over HTTP
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


def smoke_step(run: FlowRun) -> Outcome:
    passed, detail, _ = smoke_test(run.url)
    return Outcome(passed, detail)


def drift_step(run: FlowRun) -> Outcome:
    """The monitor end to end: the test split as traffic, captured like SageMaker captures it, checked like the
    scheduled drift job checks it (docs/06-observability-operations.md)."""
    passed, detail = capture.simulate_and_check(
        run.server,
        run.work / "splits" / "test",
        registry.model_path(run.registered),
        run.settings.monitoring,
        run.work / "capture",
    )
    return Outcome(passed, detail)


# ---------------------------------------------------------------------------------------------- gate reporting
def comparison_metrics(report: dict[str, Any], judged: champion.ChampionCheck) -> dict[str, float]:
    """The baseline's and the champion's values on the candidate's test split, logged beside its own metrics."""
    baseline = report[contracts.BASELINE_SECTION]
    logged = {f"baseline_{name}": baseline[name]["value"] for name in contracts.QUALITY_METRICS}
    if judged.evaluation is not None:
        section = judged.evaluation[contracts.METRICS_SECTION]
        logged.update({f"champion_{name}": section[name]["value"] for name in contracts.QUALITY_METRICS})
    return logged


def registration_status(judged: champion.ChampionCheck) -> dict[str, Any]:
    """Pending approval, or Rejected with the champion check's reason; the champion version it was judged against."""
    tags = {champion.CHAMPION_VERSION_TAG: judged.champion.version} if judged.champion else {}
    if judged.passed:
        return {"version_tags": tags}
    return {
        "approval_status": registry.REJECTED,
        "version_tags": {**tags, champion.REJECTION_REASON_TAG: judged.verdict.reason if judged.verdict else ""},
    }


def print_comparisons(run: FlowRun) -> None:
    """The candidate beside the gender rule and the champion, on the same test split."""
    report, judged, metric = run.evaluation.report, run.judged, run.metric
    baseline = report[contracts.BASELINE_SECTION]
    candidate = report[contracts.METRICS_SECTION][metric]["value"]
    rule, lift = baseline[contracts.BASELINE_RULE_KEY], baseline[contracts.BASELINE_LIFT_KEY][metric]
    print(
        f"{rule} rule on the same test split: {metric} {baseline[metric]['value']:.3f} "
        f"(candidate {candidate:.3f}, lift {lift:+.3f}, margin {run.baseline_margin:g})"
    )
    if judged.champion is None or judged.evaluation is None:
        print(f"{champion.CHAMPION_ALIAS}: none yet (make approve sets one)")
        return
    value = judged.evaluation[contracts.METRICS_SECTION][metric]["value"]
    tolerance = run.settings.ml.champion_tolerance
    print(
        f"{champion.CHAMPION_ALIAS} v{judged.champion.version} on the same test split: {metric} {value:.3f} "
        f"(candidate {candidate:.3f}, tolerance {tolerance:g}): {'passed' if judged.passed else 'REFUSED'}"
    )
