"""Phase 02: TrainModel: fit the feature encoding and a gradient-boosting classifier; write the model folder.

SageMaker Training runs this file with hyperparameters as `--name value` arguments and the SM_CHANNEL_TRAIN,
SM_CHANNEL_VALIDATION and SM_MODEL_DIR variables; locally pass --train, --validation and --model-dir.
The model folder holds MODEL_FILE (the scikit-learn estimator, joblib) and METADATA_FILE (fitted feature
parameters, feature schema, library versions, training data sha256, hyperparameters, validation scores).
Deterministic: the same data, hyperparameters and seed give a byte-identical model file.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file (SageMaker runs files): make the `ml` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import os
import platform
from collections.abc import Sequence
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

from ml import baseline, contracts, dataset, features, inference, schema, tracking

EXIT_INVALID_DATA = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument(
        "--validation", default=os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    # Hyperparameters (chosen by cross-validation on the train split, see docs/02-training-validation.md).
    # SageMaker passes each as `--<key> <value>` with the key as written in the estimator: both spellings work.
    parser.add_argument("--n-estimators", "--n_estimators", dest="n_estimators", type=int, default=200)
    parser.add_argument("--max-depth", "--max_depth", dest="max_depth", type=int, default=2)
    parser.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=float, default=0.05)
    parser.add_argument("--subsample", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--cv-folds",
        "--cv_folds",
        dest="cv_folds",
        type=int,
        default=5,
        help="k-fold accuracy on the train split; 0 skips",
    )
    # Set by the SageMaker pipeline when the environment tracks runs in an MLflow app or tracking server (its ARN is
    # MLFLOW_TRACKING_URI): the run is logged there with the seed-004 names. The local flow logs from
    # ml/local/registry.py instead.
    parser.add_argument("--mlflow-run-tags", "--mlflow_run_tags", dest="mlflow_run_tags", default=None)
    return parser.parse_args(argv)


def hyperparameters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "n_estimators": args.n_estimators,
        "max_depth": args.max_depth,
        "learning_rate": args.learning_rate,
        "subsample": args.subsample,
        "seed": args.seed,
        "cv_folds": args.cv_folds,
    }


def build_estimator(params: dict[str, Any]) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        learning_rate=params["learning_rate"],
        subsample=params["subsample"],
        random_state=params["seed"],
    )


def labels(records: Sequence[dict[str, Any]]) -> np.ndarray:
    return np.array([record[schema.LABEL] for record in records], dtype=np.int64)


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Fit, write the model folder, return the metadata written."""
    train_records, train_sha = dataset.read_records(args.train)
    validation_records, validation_sha = dataset.read_records(args.validation)
    encoding = features.fit(train_records)
    x_train, y_train = features.encode(train_records, encoding), labels(train_records)
    params = hyperparameters(args)

    cv_scores: list[float] = []
    if args.cv_folds > 1:
        folds = StratifiedKFold(n_splits=args.cv_folds, shuffle=True, random_state=args.seed)
        cv_scores = [float(s) for s in cross_val_score(build_estimator(params), x_train, y_train, cv=folds)]
    estimator = build_estimator(params).fit(x_train, y_train)
    x_validation = features.encode(validation_records, encoding)
    validation_accuracy = float(estimator.score(x_validation, labels(validation_records)))

    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, model_dir / contracts.MODEL_FILE)
    metadata = {
        "estimator": type(estimator).__name__,
        "hyperparameters": params,
        "features": encoding,
        "input_columns": list(schema.INFERENCE_COLUMN_NAMES),
        "libraries": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "joblib": joblib.__version__,
        },
        "training_data": {"sha256": train_sha, "rows": len(train_records)},
        "validation_data": {"sha256": validation_sha, "rows": len(validation_records)},
        "scores": {
            "cv_accuracy_mean": round(float(np.mean(cv_scores)), 6) if cv_scores else None,
            "cv_accuracy_std": round(float(np.std(cv_scores)), 6) if cv_scores else None,
            "validation_accuracy": round(validation_accuracy, 6),
        },
        "model_sha256": dataset.sha256_file(model_dir / contracts.MODEL_FILE),
    }
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    dataset.write_atomically(model_dir / contracts.METADATA_FILE, text.encode("utf-8"))
    # Drift baseline (ml/baseline.py): the inputs of the train split, the model's outputs on the validation split.
    baseline.write(
        model_dir,
        baseline.build(train_records, estimator.predict_proba(x_validation)[:, 1], inference.DECISION_THRESHOLD),
    )
    return metadata


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run_tags = tracking.parse_run_tags(args.mlflow_run_tags) if args.mlflow_run_tags else None
    try:
        metadata = train(args)
    except dataset.InvalidData as error:
        print(f"TrainModel: invalid input data, no model written.\n{error}", file=sys.stderr)
        return EXIT_INVALID_DATA
    scores = metadata["scores"]
    cv = (
        f"cv accuracy {scores['cv_accuracy_mean']:.3f}±{scores['cv_accuracy_std']:.3f}, "
        if scores["cv_accuracy_mean"]
        else ""
    )
    print(
        f"TrainModel: {metadata['estimator']} on {metadata['training_data']['rows']} rows, {cv}"
        f"validation accuracy {scores['validation_accuracy']:.3f}, model sha256 {metadata['model_sha256'][:12]}"
    )
    if run_tags is not None:
        dataset_tag = f"{Path(args.train).name}@sha256:{metadata['training_data']['sha256'][:12]}"
        run_id = tracking.log_training_run(metadata, {"dataset": dataset_tag, **run_tags})
        print(f"TrainModel: logged MLflow run {run_id} in {tracking.experiment_name()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
