"""Phase 02: TrainModel: fit the feature encoding and a logistic regression on standardized features; write the
model folder.

SageMaker Training runs this file with hyperparameters as `--name value` arguments and the SM_CHANNEL_TRAIN,
SM_CHANNEL_VALIDATION and SM_MODEL_DIR variables; locally pass --train, --validation and --model-dir.
The final model is fitted on train + validation (the choice of features and estimator was made beforehand by
repeated cross-validation, `make model-selection`); the test split stays untouched for ModelEvaluation. The
cross-validation scores in the metadata are k-fold over those same rows, features fitted inside each fold.
The model folder holds MODEL_FILE (the scikit-learn estimator, joblib) and METADATA_FILE (fitted feature
parameters, feature schema, library versions, training data sha256, hyperparameters, cross-validation scores).
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
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ml import baseline, contracts, crossval, dataset, features, inference, schema, tracking

EXIT_INVALID_DATA = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument(
        "--validation", default=os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    # Hyperparameters (chosen by repeated cross-validation, see docs/02-training-validation.md).
    # SageMaker passes each as `--<key> <value>` with the key as written in the estimator: both spellings work.
    parser.add_argument("--C", "--c", dest="C", type=float, default=0.1, help="inverse L2 regularization strength")
    parser.add_argument("--max-iter", "--max_iter", dest="max_iter", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42, help="cross-validation shuffles (the fit itself is exact)")
    parser.add_argument(
        "--cv-folds",
        "--cv_folds",
        dest="cv_folds",
        type=int,
        default=5,
        help="k-fold accuracy on train + validation; 0 skips",
    )
    parser.add_argument("--cv-repeats", "--cv_repeats", dest="cv_repeats", type=int, default=1)
    # Set by the SageMaker pipeline when the environment tracks runs in an MLflow app or tracking server (its ARN is
    # MLFLOW_TRACKING_URI): the run is logged there with the seed-004 names. The local flow logs from
    # ml/local/registry.py instead.
    parser.add_argument("--mlflow-run-tags", "--mlflow_run_tags", dest="mlflow_run_tags", default=None)
    return parser.parse_args(argv)


def hyperparameters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "C": args.C,
        "max_iter": args.max_iter,
        "seed": args.seed,
        "cv_folds": args.cv_folds,
        "cv_repeats": args.cv_repeats,
    }


def build_estimator(params: dict[str, Any]) -> Pipeline:
    """Standardized features into an L2-regularized logistic regression (lbfgs: no randomness)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=params["max_iter"]))


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Fit on train + validation, write the model folder, return the metadata written."""
    train_records, train_sha = dataset.read_records(args.train)
    validation_records, validation_sha = dataset.read_records(args.validation)
    records = train_records + validation_records
    params = hyperparameters(args)
    scores: dict[str, Any] = dict.fromkeys(crossval.SUMMARY_KEYS)
    if args.cv_folds > 1:
        folds = crossval.fold_scores(
            records,
            lambda: build_estimator(params),
            folds=args.cv_folds,
            repeats=max(args.cv_repeats, 1),
            seed=args.seed,
        )
        scores = folds.summary()
    encoding, x_train = features.fit_encode(records)
    y_train = crossval.labels(records)
    estimator = build_estimator(params).fit(x_train, y_train)
    scores["training_accuracy"] = round(float(estimator.score(x_train, y_train)), 6)  # in-sample: a sanity figure

    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, model_dir / contracts.MODEL_FILE)
    metadata = {
        "estimator": " -> ".join(type(step).__name__ for _, step in estimator.steps),
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
        "fitted_on": {"splits": ["train", "validation"], "rows": len(records)},
        "scores": scores,
        "model_sha256": dataset.sha256_file(model_dir / contracts.MODEL_FILE),
    }
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    dataset.write_atomically(model_dir / contracts.METADATA_FILE, text.encode("utf-8"))
    # Drift baseline (ml/baseline.py): the inputs the model was fitted on and its outputs on them (the group features
    # leave-one-out encoded, as fitted; every non-test passenger is in the fit, so no held-out split is left).
    probabilities = estimator.predict_proba(x_train)[:, 1]
    baseline.write(model_dir, baseline.build(records, probabilities, inference.DECISION_THRESHOLD, "train+validation"))
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
        f"{metadata['hyperparameters']['cv_folds']}-fold cv accuracy "
        f"{scores['cv_accuracy_mean']:.3f}±{scores['cv_accuracy_std']:.3f} "
        f"(gender rule {scores['cv_gender_accuracy_mean']:.3f}), "
        if scores["cv_accuracy_mean"] is not None
        else ""
    )
    print(
        f"TrainModel: {metadata['estimator']} on {metadata['fitted_on']['rows']} rows (train + validation), {cv}"
        f"model sha256 {metadata['model_sha256'][:12]}"
    )
    if run_tags is not None:
        dataset_tag = f"{Path(args.train).name}@sha256:{metadata['training_data']['sha256'][:12]}"
        run_id = tracking.log_training_run(metadata, {"dataset": dataset_tag, **run_tags})
        print(f"TrainModel: logged MLflow run {run_id} in {tracking.experiment_name()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
