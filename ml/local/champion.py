"""The champion: the version `make approve` promoted last, held by the MLflow alias `champion` (the alias
convention MLflow documents for the model that serves), and the check every new candidate must pass against it.

`make run` scores the champion on the candidate's own test split (ml/evaluate.py, the same code as the candidate)
and applies ml/gates.py's champion gate with config's champion_tolerance. A candidate worse than that is
registered as Rejected with the reason in the version tag `rejection_reason`. Rejecting the champion moves the
alias to the newest other Approved version, or removes it when there is none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml import contracts, evaluate, gates
from ml.local import registry

CHAMPION_ALIAS = "champion"
REJECTION_REASON_TAG = "rejection_reason"
CHAMPION_VERSION_TAG = "champion_version"  # on a candidate: the champion version it was judged against


@dataclass(frozen=True)
class ChampionCheck:
    passed: bool
    summary: str  # one line for the step table
    champion: registry.RegisteredVersion | None = None
    evaluation: dict[str, Any] | None = None  # the champion's evaluation.json on the candidate's test split
    verdict: gates.Verdict | None = None


def current() -> registry.RegisteredVersion | None:
    """The version holding the champion alias, or None (no model registered, or nothing approved yet)."""
    mlflow_client = registry.client()
    registered = mlflow_client.search_registered_models(filter_string=f"name = '{registry.MODEL_NAME}'")
    if not registered or CHAMPION_ALIAS not in registered[0].aliases:
        return None
    return registry.get_version(str(registered[0].aliases[CHAMPION_ALIAS]))


def check(
    candidate_evaluation: dict[str, Any], test_dir: Path, output_dir: Path, metric: str, tolerance: float
) -> ChampionCheck:
    """Score the champion on test_dir and judge the candidate against it."""
    champion = current()
    if champion is None:
        return ChampionCheck(True, f"no {CHAMPION_ALIAS} yet (make approve sets one): nothing to compare")
    model_dir = registry.model_path(champion)
    argv = ["--model-dir", str(model_dir), "--test-dir", str(test_dir), "--output-dir", str(output_dir)]
    evaluate.evaluate(evaluate.parse_args(argv), plots=False)
    champion_evaluation = json.loads((output_dir / contracts.EVALUATION_FILE).read_text(encoding="utf-8"))
    verdict = gates.champion_gate(
        candidate_evaluation, champion_evaluation, metric, tolerance, f"{CHAMPION_ALIAS} v{champion.version}"
    )
    outcome = "passed" if verdict.passed else "REFUSED: registered as Rejected"
    return ChampionCheck(verdict.passed, f"{verdict.reason}: {outcome}", champion, champion_evaluation, verdict)


def follow_approval(mlflow_client: Any, version: str, status: str, approved_versions: list[str]) -> str | None:
    """Move the alias after an approval change (registry.set_approval); the version it now names, or None.

    Approved: this version becomes the champion. Rejected or pending again while champion: the newest other
    Approved version takes over, or the alias goes.
    """
    aliases = mlflow_client.get_registered_model(registry.MODEL_NAME).aliases
    holder = str(aliases[CHAMPION_ALIAS]) if CHAMPION_ALIAS in aliases else None
    if status == registry.APPROVED:
        mlflow_client.set_registered_model_alias(registry.MODEL_NAME, CHAMPION_ALIAS, version)
        return version
    if holder != version:
        return holder
    others = [v for v in approved_versions if v != version]
    if others:
        mlflow_client.set_registered_model_alias(registry.MODEL_NAME, CHAMPION_ALIAS, others[-1])
        return others[-1]
    mlflow_client.delete_registered_model_alias(registry.MODEL_NAME, CHAMPION_ALIAS)
    return None
