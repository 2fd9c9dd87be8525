"""The local ML flow behind `make run`: the SageMaker pipeline's steps on this machine, then serve and smoke-test.

DataPreProcessing -> TrainModel -> ModelEvaluation (the same ml/ scripts, with explicit local paths) -> quality
gate (threshold and margin over the gender rule from config/environments/<env>.toml, as the SageMaker condition;
ml/gates.py) -> champion check (the `champion` version scored on the same test split, ml/local/champion.py) ->
register in the local MLflow registry (pending approval; Rejected with the reason when the champion check refused
it) -> serve the registered model on a free loopback port -> smoke test over HTTP (ml/smoke.py) -> summary table.
Exit codes: 0 done, 2 invalid data, 3 a gate refused (quality: nothing registered; champion: registered as
Rejected), 4 smoke test failed, 5 registry unavailable.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import load_environment
from ml import contracts, dataset, evaluate, gates, inference, preprocess, smoke, train
from ml.local import champion, registry, server

EXIT_INVALID_DATA, EXIT_GATE, EXIT_SMOKE, EXIT_REGISTRY = 2, 3, 4, 5
SMOKE_LATENCY_BUDGET_MS = 250.0  # one request of 4 passengers over loopback, first request included
DEFAULT_DATA = registry.REPO_ROOT / "data" / "titanic.csv"


@dataclass
class Summary:
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # (step, result, seconds)
    facts: dict[str, Any] = field(default_factory=dict)

    def step(self, number: int, total: int, name: str, action: Callable[[], tuple[bool, str]]) -> bool:
        print(f"[{number}/{total}] {name} ...", flush=True)
        start = time.perf_counter()
        passed, result = action()
        seconds = time.perf_counter() - start
        self.steps.append((name, result, seconds))
        print(f"[{number}/{total}] {name}: {result} ({seconds:.2f} s)", flush=True)
        return passed

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


def run(args: argparse.Namespace) -> int:
    work = Path(args.work_dir)
    splits_dir, model_dir, evaluation_dir = work / "splits", work / "model", work / "evaluation"
    settings = load_environment(args.env)
    metric = settings.ml.quality_metric
    threshold = settings.ml.quality_threshold if args.threshold is None else args.threshold
    summary = Summary()
    total = 8
    outputs: dict[str, Any] = {}

    def script(main: Callable[[list[str]], int], argv: list[str]) -> Callable[[], tuple[bool, str]]:
        def action() -> tuple[bool, str]:
            code = main(argv)
            return code == 0, "ok" if code == 0 else f"FAILED (exit {code}, see the message above)"

        return action

    steps = [
        (
            "DataPreProcessing",
            preprocess.main,
            ["--input-dir", args.data, "--output-dir", str(splits_dir), "--seed", str(args.seed)],
        ),
        (
            "TrainModel",
            train.main,
            [
                "--train",
                str(splits_dir / "train"),
                "--validation",
                str(splits_dir / "validation"),
                "--model-dir",
                str(model_dir),
                "--seed",
                str(args.seed),
            ],
        ),
        (
            "ModelEvaluation",
            evaluate.main,
            [
                "--model-dir",
                str(model_dir),
                "--test-dir",
                str(splits_dir / "test"),
                "--output-dir",
                str(evaluation_dir),
            ],
        ),
    ]
    for number, (name, main, argv) in enumerate(steps, start=1):
        if not summary.step(number, total, name, script(main, argv)):
            print(summary.table())
            return EXIT_INVALID_DATA

    evaluation = json.loads((evaluation_dir / contracts.EVALUATION_FILE).read_text())
    metadata = json.loads((model_dir / contracts.METADATA_FILE).read_text())
    values = {name: evaluation[contracts.METRICS_SECTION][name]["value"] for name in contracts.QUALITY_METRICS}
    margin = settings.ml.baseline_margin if args.baseline_margin is None else args.baseline_margin
    quality = gates.quality_gate(evaluation, metric, threshold, margin)

    def gate() -> tuple[bool, str]:
        verdict = "passed" if quality.passed else "REFUSED: the model is not registered"
        return quality.passed, f"{quality.reason} ({args.env}): {verdict}"

    if not summary.step(4, total, "quality gate", gate):
        print(summary.table())
        print(
            f"\nquality gate refused the model: {quality.reason} (config/environments/{args.env}.toml [ml]); "
            "nothing was registered.",
            file=sys.stderr,
        )
        return EXIT_GATE

    # --- champion check (ml/local/champion.py): a regression is registered as Rejected, with its reason
    def judge() -> tuple[bool, str]:
        try:
            outputs["champion"] = champion.check(
                evaluation, splits_dir / "test", work / "champion-evaluation", metric, settings.ml.champion_tolerance
            )
        except Exception as error:  # the store or the champion's artifacts are unusable: say so, not a traceback
            outputs["champion_error"] = True
            return False, f"FAILED: {type(error).__name__}: {error} (store: {registry.tracking_uri()})"
        return outputs["champion"].passed, outputs["champion"].summary

    summary.step(5, total, "champion check", judge)
    if outputs.get("champion_error"):
        print(summary.table())
        return EXIT_REGISTRY
    judged: champion.ChampionCheck = outputs["champion"]
    # ---

    scores = {k: v for k, v in metadata["scores"].items() if v is not None}

    def register() -> tuple[bool, str]:
        _, data_sha = dataset.read_records(args.data)  # the sha256 of the raw file(s), as DataPreProcessing saw them
        try:
            registered = registry.register(
                model_dir=model_dir,
                evaluation_dir=evaluation_dir,
                metrics={**values, **scores, **comparison_metrics(evaluation, judged)},
                params=metadata["hyperparameters"],
                tags={
                    "dataset": f"{Path(args.data).name}@sha256:{data_sha[:12]}",
                    "env": args.env,
                    "purpose": "local-flow",
                    "owner": settings.owner,
                    "model_sha256": metadata["model_sha256"],
                },
                seed=args.seed,
                **registration_status(judged),
            )
        except Exception as error:  # an unreachable or broken tracking store: say so instead of a traceback
            return False, f"FAILED: {type(error).__name__}: {error} (store: {registry.tracking_uri()})"
        outputs["registered"] = registered
        return (
            True,
            f"{registered.name} v{registered.version} ({registered.approval_status}) in {registered.experiment}",
        )

    if not summary.step(6, total, "register (MLflow)", register):
        print(summary.table())
        return EXIT_REGISTRY
    registered = outputs["registered"]
    if not judged.passed:
        print()
        print(summary.table())
        print()
        print_comparisons(evaluation, judged, metric, margin, settings.ml.champion_tolerance)
        print(f"\nchampion check refused the model: {judged.summary}", file=sys.stderr)
        return EXIT_GATE

    def serve() -> tuple[bool, str]:
        model = inference.model_fn(str(registry.model_path(registered)))
        outputs["server"], _ = server.start_in_thread(model)
        return True, f"{outputs['server'].url} (model v{registered.version} from the registry)"

    summary.step(7, total, "serve on loopback", serve)
    try:
        smoke_passed = summary.step(8, total, "smoke test over HTTP", lambda: smoke_test(outputs["server"].url)[:2])
    finally:
        outputs["server"].shutdown()
        outputs["server"].server_close()

    print()
    print(summary.table())
    print()
    print("test metrics: " + ", ".join(f"{name} {v:.3f}" for name, v in values.items()))
    print_comparisons(evaluation, judged, metric, margin, settings.ml.champion_tolerance)
    print(
        f"registry: {registry.tracking_uri()} -> {registered.name} v{registered.version}, "
        f"{registry.APPROVAL_TAG}={registered.approval_status} (make approve / make reject)"
    )
    if not smoke_passed:
        print("smoke test FAILED: see the step line above", file=sys.stderr)
        return EXIT_SMOKE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


# ---------------------------------------------------------------------------------------------- gate reporting
def comparison_metrics(evaluation: dict[str, Any], judged: champion.ChampionCheck) -> dict[str, float]:
    """The baseline's and the champion's values on the candidate's test split, logged beside its own metrics."""
    baseline = evaluation[contracts.BASELINE_SECTION]
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


def print_comparisons(
    evaluation: dict[str, Any], judged: champion.ChampionCheck, metric: str, margin: float, tolerance: float
) -> None:
    baseline = evaluation[contracts.BASELINE_SECTION]
    candidate = evaluation[contracts.METRICS_SECTION][metric]["value"]
    rule, lift = baseline[contracts.BASELINE_RULE_KEY], baseline[contracts.BASELINE_LIFT_KEY][metric]
    print(
        f"{rule} rule on the same test split: {metric} {baseline[metric]['value']:.3f} "
        f"(candidate {candidate:.3f}, lift {lift:+.3f}, margin {margin:g})"
    )
    if judged.champion is None or judged.evaluation is None:
        print(f"{champion.CHAMPION_ALIAS}: none yet (make approve sets one)")
        return
    value = judged.evaluation[contracts.METRICS_SECTION][metric]["value"]
    print(
        f"{champion.CHAMPION_ALIAS} v{judged.champion.version} on the same test split: {metric} {value:.3f} "
        f"(candidate {candidate:.3f}, tolerance {tolerance:g}): {'passed' if judged.passed else 'REFUSED'}"
    )


if __name__ == "__main__":
    sys.exit(main())
