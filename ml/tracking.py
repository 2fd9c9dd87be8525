"""MLflow tracking conventions (seed 004), shared by the local registry and the SageMaker training job.

Experiment `exp_<project>_<YYYYMMDD>`, run `run_<objective>_<seed>`, tags `dataset`, `env`, `purpose`, `owner`.
MLflow is imported only when a run is logged: the SageMaker container installs it for the training job alone
(ml/requirements-training.txt), and nothing else in ml/ needs it.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

PROJECT = "titanic-sagemaker"
OBJECTIVE = "survival"
RUN_TAG_KEYS = ("dataset", "env", "purpose", "owner")


def experiment_name(day: datetime.date | None = None) -> str:
    return f"exp_{PROJECT}_{(day or datetime.date.today()).strftime('%Y%m%d')}"


def run_name(seed: int) -> str:
    return f"run_{OBJECTIVE}_{seed}"


def parse_run_tags(text: str) -> dict[str, str]:
    """The `--mlflow-run-tags` JSON of train.py: exactly the tags of the convention but `dataset` (train.py sets it)."""
    tags = json.loads(text)
    expected = set(RUN_TAG_KEYS) - {"dataset"}
    if not isinstance(tags, dict) or set(tags) != expected or not all(isinstance(v, str) and v for v in tags.values()):
        raise ValueError(f"--mlflow-run-tags must be a JSON object with exactly {sorted(expected)} as non-empty text")
    return tags


def log_training_run(metadata: dict[str, Any], tags: dict[str, str]) -> str:
    """Log a training run (hyperparameters, scores, metadata) to the MLflow app, tracking server or store
    MLFLOW_TRACKING_URI names; its run id. Every mlflow.<function> used here must be in the access model's table
    (scripts/access_model/extra_permissions.toml [mlflow]): the IAM grant of the training job is derived from it."""
    import mlflow  # imported here: see the module docstring

    mlflow.set_experiment(experiment_name())
    with mlflow.start_run(run_name=run_name(metadata["hyperparameters"]["seed"]), tags=tags) as run:
        mlflow.log_params(metadata["hyperparameters"])
        mlflow.log_metrics({name: value for name, value in metadata["scores"].items() if value is not None})
        mlflow.log_dict(metadata, "metadata.json")
        return run.info.run_id
