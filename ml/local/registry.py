"""The local model registry: MLflow on SQLite under .local/ (MLFLOW_TRACKING_URI overrides), seed-004 conventions.

MLflow has no approval status, so a model version carries the tag approval_status with SageMaker Model Registry's
values (PendingManualApproval, Approved, Rejected); approve/reject rewrite that tag and keep the alias `approved`
on the newest approved version; approve also moves the alias `champion` to that version (ml/local/champion.py).
Runs follow seed 004: experiment exp_<project>_<date>, run run_<objective>_<seed>, tags dataset, env, purpose, owner.
Every approval change is also written to the audit history (ml/local/audit.py), which `list` prints under each
version.

CLI (behind make approve / make reject):  python -m ml.local.registry {approve,reject,list} [--version N]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Quiet, offline MLflow: no telemetry, no git probing noise, no INFO lines on every start.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

from ml.local import audit
from ml.tracking import experiment_name, run_name

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = REPO_ROOT / ".local"
MODEL_NAME = "titanic-survival"
APPROVAL_TAG = "approval_status"
PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
APPROVED_ALIAS = "approved"
APPROVAL_ACTIONS = {APPROVED: "approve", REJECTED: "reject", PENDING: "reset"}  # audit: the action each status records


class RegistryError(Exception):
    """A registry operation cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    source: str
    approval_status: str
    experiment: str
    run_name: str


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    (LOCAL_DIR / "mlflow").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{LOCAL_DIR / 'mlflow' / 'mlflow.db'}"


def client() -> Any:
    from mlflow.tracking import MlflowClient  # imported late: it costs ~2 s and only registry commands need it

    # MLflow sets up its loggers on import: silence the INFO lines (database creation, migrations) afterwards.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=tracking_uri(), registry_uri=tracking_uri())


def artifact_root() -> str | None:
    """Artifacts beside a SQLite store (MLflow's default would be ./mlruns in whatever folder runs it)."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).parent / "artifacts").as_uri()
    return None  # a tracking server decides where its artifacts go


def _experiment_id(mlflow_client: Any, name: str) -> str:
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return mlflow_client.create_experiment(name, artifact_location=artifact_root())


def register(
    *,
    model_dir: Path,
    evaluation_dir: Path,
    metrics: dict[str, float],
    params: dict[str, Any],
    tags: dict[str, str],
    seed: int,
    approval_status: str = PENDING,
    version_tags: dict[str, str] | None = None,
) -> RegisteredVersion:
    """Log one run (params, metrics, model folder, evaluation report and plots) and register its model.

    Registered as pending approval, or with another `approval_status` (Rejected by the champion check) and extra
    `version_tags` (its reason).
    """
    mlflow_client = client()
    experiment = experiment_name()
    experiment_id = _experiment_id(mlflow_client, experiment)
    name = run_name(seed)
    run = mlflow_client.create_run(experiment_id, run_name=name, tags=tags)
    run_id = run.info.run_id
    try:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        mlflow_client.log_batch(  # one database transaction instead of one per value
            run_id,
            metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
            params=[Param(key, str(value)) for key, value in params.items()],
        )
        mlflow_client.log_artifacts(run_id, str(model_dir), "model")
        mlflow_client.log_artifacts(run_id, str(evaluation_dir), "evaluation")
    except Exception:
        mlflow_client.set_terminated(run_id, status="FAILED")
        raise
    mlflow_client.set_terminated(run_id)
    if not mlflow_client.search_registered_models(filter_string=f"name = '{MODEL_NAME}'"):
        mlflow_client.create_registered_model(
            MODEL_NAME, description="Titanic survival classifier trained by the local flow (make run)."
        )
    version = mlflow_client.create_model_version(
        MODEL_NAME,
        source=f"{run.info.artifact_uri}/model",
        run_id=run_id,
        tags={
            APPROVAL_TAG: approval_status,
            **{k: v for k, v in tags.items() if k in ("dataset", "env")},
            **(version_tags or {}),
        },
        description=f"{name} in {experiment}; approve with `make approve VERSION=<n>`",
    )
    return RegisteredVersion(
        MODEL_NAME, str(version.version), run_id, version.source, approval_status, experiment, name
    )


def _versions(mlflow_client: Any) -> list[Any]:
    versions = mlflow_client.search_model_versions(filter_string=f"name = '{MODEL_NAME}'")
    return sorted(versions, key=lambda v: int(v.version))


def get_version(version: str | None = None) -> RegisteredVersion:
    """One registered version (the latest when `version` is None)."""
    mlflow_client = client()
    versions = _versions(mlflow_client)
    if not versions:
        raise RegistryError(f"no model registered under {MODEL_NAME!r} in {tracking_uri()}: run `make run` first")
    if version is None:
        chosen = versions[-1]
    else:
        matches = [v for v in versions if str(v.version) == str(version)]
        if not matches:
            known = ", ".join(str(v.version) for v in versions)
            raise RegistryError(f"{MODEL_NAME} has no version {version} (versions: {known})")
        chosen = matches[0]
    run = mlflow_client.get_run(chosen.run_id)
    experiment = mlflow_client.get_experiment(run.info.experiment_id).name
    return RegisteredVersion(
        MODEL_NAME,
        str(chosen.version),
        chosen.run_id,
        chosen.source,
        chosen.tags.get(APPROVAL_TAG, "unknown"),
        experiment,
        run.info.run_name,
    )


def set_approval(status: str, version: str | None = None) -> RegisteredVersion:
    if status not in (APPROVED, REJECTED, PENDING):
        raise RegistryError(f"unknown approval status {status!r}")
    chosen = get_version(version)
    mlflow_client = client()
    mlflow_client.set_model_version_tag(MODEL_NAME, chosen.version, APPROVAL_TAG, status)
    approved = [v for v in _versions(mlflow_client) if v.tags.get(APPROVAL_TAG) == APPROVED]
    if approved:
        mlflow_client.set_registered_model_alias(MODEL_NAME, APPROVED_ALIAS, str(approved[-1].version))
    elif APPROVED_ALIAS in mlflow_client.get_registered_model(MODEL_NAME).aliases:
        mlflow_client.delete_registered_model_alias(MODEL_NAME, APPROVED_ALIAS)
    # --- audit (ml/local/audit.py): who changed the approval, what, when; `make models` prints the history.
    audit.record(
        mlflow_client,
        artifact_location=artifact_root(),
        model=MODEL_NAME,
        version=chosen.version,
        action=APPROVAL_ACTIONS[status],
        from_status=chosen.approval_status,
        to_status=status,
        version_run_tags=mlflow_client.get_run(chosen.run_id).data.tags,
    )
    # --- end audit
    from ml.local import champion  # imported here: champion.py imports this module

    champion.follow_approval(mlflow_client, chosen.version, status, [str(v.version) for v in approved])
    return get_version(chosen.version)


def model_path(registered: RegisteredVersion) -> Path:
    """A local folder holding the version's model files (downloaded when the store is not local)."""
    from mlflow.artifacts import download_artifacts

    return Path(download_artifacts(artifact_uri=registered.source, tracking_uri=tracking_uri()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local model registry: list versions, approve or reject one.")
    parser.add_argument("action", choices=("approve", "reject", "list"))
    parser.add_argument("--version", default=None, help="model version (default: the latest)")
    args = parser.parse_args(argv)
    try:
        if args.action == "list":
            mlflow_client = client()
            changes = audit.history(mlflow_client, MODEL_NAME)  # audit: the approval history under each version
            for v in _versions(mlflow_client):
                print(f"{MODEL_NAME} v{v.version}  {v.tags.get(APPROVAL_TAG, 'unknown'):22}  run {v.run_id}")
                print("\n".join(audit.history_lines(v.creation_timestamp, changes.get(str(v.version), []))))
            return 0
        before = get_version(args.version)
        after = set_approval(APPROVED if args.action == "approve" else REJECTED, args.version)
    except RegistryError as error:
        print(f"registry: {error}", file=sys.stderr)
        return 1
    print(f"{MODEL_NAME} v{after.version}: {APPROVAL_TAG} {before.approval_status} -> {after.approval_status}")
    print_champion()
    return 0


def print_champion() -> None:
    from ml.local import champion

    holder = champion.current()
    target = f"v{holder.version}" if holder else "none (no approved version)"
    print(f"{MODEL_NAME}: alias {champion.CHAMPION_ALIAS} -> {target}")


if __name__ == "__main__":
    sys.exit(main())
