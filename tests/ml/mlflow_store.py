"""A local MLflow store with something of every kind in it, and its description through the MLflow client.

`build_store` registers two versions the way the local flow does (ml/local/registry.register), approves one and
rejects the other (so the audit history exists), then adds what the flow does not make: a second experiment with
tags, a metric history of several steps, a registered-model tag, a second alias and a deleted run. `describe` reads
all of it back through MlflowClient, with artifact locations made relative to the store, so two stores in two
folders compare equal when they hold the same things.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from ml.local import registry

SECOND_EXPERIMENT = "exp_titanic-sagemaker_19990101"


def build_store(work: Path) -> dict[str, str]:
    """Fill the store MLFLOW_TRACKING_URI names; the ids the tests refer to."""
    from mlflow.entities import Metric

    ids: dict[str, str] = {}
    for seed in (1, 2):
        model_dir, evaluation_dir = work / f"model{seed}", work / f"evaluation{seed}"
        (model_dir / "nested").mkdir(parents=True)
        evaluation_dir.mkdir()
        (model_dir / "model.joblib").write_bytes(bytes(range(256)) * (seed * 40))
        (model_dir / "nested" / "metadata.json").write_text(f'{{"seed": {seed}}}')
        (evaluation_dir / "evaluation.json").write_text(f'{{"accuracy": 0.8{seed}}}')
        version = registry.register(
            model_dir=model_dir,
            evaluation_dir=evaluation_dir,
            metrics={"accuracy": 0.8 + seed / 100, "auc": 0.9},
            params={"seed": seed, "n_estimators": 200},
            tags={"dataset": f"titanic.csv@sha256:{seed:012d}", "env": "dev", "purpose": "test", "owner": "ml-team"},
            seed=seed,
        )
        ids[f"v{seed}"] = version.version
        ids[f"run{seed}"] = version.run_id
    registry.set_approval(registry.APPROVED, ids["v1"])
    registry.set_approval(registry.REJECTED, ids["v2"])
    client = registry.client()
    client.set_registered_model_alias(registry.MODEL_NAME, "champion", ids["v1"])
    client.set_registered_model_tag(registry.MODEL_NAME, "team", "ml-platform")
    client.set_model_version_tag(registry.MODEL_NAME, ids["v2"], "note", "rejected in review")
    experiment_id = client.create_experiment(
        SECOND_EXPERIMENT, artifact_location=registry.artifact_root(), tags={"purpose": "history"}
    )
    run = client.create_run(experiment_id, run_name="run_survival_7", tags={"env": "dev"})
    now = int(time.time() * 1000)
    client.log_batch(run.info.run_id, metrics=[Metric("loss", 1.0 / (step + 1), now + step, step) for step in range(5)])
    client.log_text(run.info.run_id, "curve", "plots/curve.txt")
    client.set_terminated(run.info.run_id)
    ids["history_run"] = run.info.run_id
    deleted = client.create_run(experiment_id, run_name="run_survival_8")
    client.log_text(deleted.info.run_id, "gone soon", "notes.txt")
    client.delete_run(deleted.info.run_id)
    ids["deleted_run"] = deleted.info.run_id
    return ids


def describe(client: Any, root_uri: str) -> dict[str, Any]:
    """Everything the store holds, as the MLflow client reports it; locations relative to `root_uri`."""
    from mlflow.entities import ViewType

    def relative(uri: str) -> str:
        return uri.replace(root_uri, "<root>")

    experiments, runs = {}, {}
    for experiment in client.search_experiments(view_type=ViewType.ALL):
        experiments[experiment.name] = {
            "id": experiment.experiment_id,
            "stage": experiment.lifecycle_stage,
            "tags": experiment.tags,
            "location": relative(experiment.artifact_location),
        }
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL):
            info = run.info
            runs[info.run_id] = {
                "experiment": experiment.name,
                "name": info.run_name,
                "status": info.status,
                "stage": info.lifecycle_stage,
                "times": (info.start_time, info.end_time),
                "params": run.data.params,
                "tags": run.data.tags,
                "metrics": {
                    key: sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(info.run_id, key))
                    for key in run.data.metrics
                },
                "artifact_uri": relative(info.artifact_uri),
                "artifacts": _artifacts(client, info.run_id),
            }
    models = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        models[model.name] = {
            "description": model.description,
            "tags": model.tags,
            "aliases": dict(model.aliases),
            "versions": {
                v.version: {
                    "run_id": v.run_id,
                    "status": v.status,
                    "tags": v.tags,
                    "description": v.description,
                    "source": relative(v.source),
                    "created": v.creation_timestamp,
                }
                for v in versions
            },
        }
    return {"experiments": experiments, "runs": runs, "models": models}


def _artifacts(client: Any, run_id: str, path: str | None = None) -> dict[str, str]:
    """Every artifact of a run with the sha256 of its content, downloaded through the client."""
    from mlflow.artifacts import download_artifacts

    found = {}
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found.update(_artifacts(client, run_id, item.path))
        else:
            local = download_artifacts(run_id=run_id, artifact_path=item.path, tracking_uri=registry.tracking_uri())
            found[item.path] = hashlib.sha256(Path(local).read_bytes()).hexdigest()
    return found
