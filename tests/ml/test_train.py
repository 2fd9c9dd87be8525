"""TrainModel: the model folder, its metadata, determinism, SageMaker's environment variables and bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml import contracts, dataset, features, schema, tracking, train

from .conftest import REPO, run_pipeline


def test_model_folder_holds_the_model_and_its_metadata(pipeline: dict[str, Path]) -> None:
    model_dir = pipeline["model"]
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == sorted([contracts.MODEL_FILE, contracts.METADATA_FILE, contracts.BASELINE_FILE])
    metadata = json.loads((model_dir / contracts.METADATA_FILE).read_text())
    assert metadata["estimator"] == "StandardScaler -> LogisticRegression"
    assert metadata["hyperparameters"] == {"C": 0.1, "max_iter": 1000, "seed": 42, "cv_folds": 5, "cv_repeats": 1}
    assert metadata["features"]["feature_names"] == list(features.FEATURE_NAMES)
    assert metadata["input_columns"] == list(schema.INFERENCE_COLUMN_NAMES)
    assert set(metadata["libraries"]) == {"python", "scikit-learn", "numpy", "joblib"}
    assert metadata["libraries"]["scikit-learn"] == "1.2.1"  # the SageMaker 1.2-1 container's version
    train_csv = pipeline["splits"] / "train" / contracts.split_file("train")
    assert metadata["training_data"] == {"sha256": dataset.sha256_file(train_csv), "rows": 623}
    assert metadata["fitted_on"] == {"splits": ["train", "validation"], "rows": 623 + 135}
    assert metadata["model_sha256"] == dataset.sha256_file(model_dir / contracts.MODEL_FILE)
    scores = metadata["scores"]
    assert 0.8 < scores["cv_accuracy_mean"] < 0.9
    assert scores["cv_gain_over_gender_mean"] == pytest.approx(
        scores["cv_accuracy_mean"] - scores["cv_gender_accuracy_mean"], abs=1e-5
    )
    assert scores["cv_gain_over_gender_mean"] > 0.03  # the gender rule scored in the same folds


def test_the_model_is_fitted_on_train_and_validation(pipeline: dict[str, Path], tmp_path: Path) -> None:
    """Validation rows change the model: they are training data now (the choice was made by cross-validation)."""
    splits = pipeline["splits"]
    (tmp_path / "empty").mkdir()
    one_row = tmp_path / "empty" / "validation.csv"
    lines = (splits / "validation" / contracts.split_file("validation")).read_text().splitlines()
    one_row.write_text("\n".join(lines[:2]) + "\n")
    argv = ["--train", str(splits / "train"), "--validation", str(tmp_path / "empty"), "--cv-folds", "0"]
    assert train.main([*argv, "--model-dir", str(tmp_path / "model")]) == 0
    metadata = json.loads((tmp_path / "model" / contracts.METADATA_FILE).read_text())
    assert metadata["fitted_on"]["rows"] == 624
    assert (
        metadata["model_sha256"]
        != json.loads((pipeline["model"] / contracts.METADATA_FILE).read_text())["model_sha256"]
    )


def test_same_seed_gives_the_same_model_bytes_and_metrics(pipeline: dict[str, Path], tmp_path: Path) -> None:
    again = run_pipeline(tmp_path)
    for name in (contracts.MODEL_FILE, contracts.METADATA_FILE, contracts.BASELINE_FILE):
        assert (again["model"] / name).read_bytes() == (pipeline["model"] / name).read_bytes()
    assert (again["evaluation"] / contracts.EVALUATION_FILE).read_bytes() == (
        pipeline["evaluation"] / contracts.EVALUATION_FILE
    ).read_bytes()


def test_hyperparameters_are_arguments_and_change_the_model(pipeline: dict[str, Path], tmp_path: Path) -> None:
    splits = pipeline["splits"]
    argv = ["--train", str(splits / "train"), "--validation", str(splits / "validation"), "--model-dir", str(tmp_path)]
    assert train.main([*argv, "--C", "5", "--cv-folds", "0"]) == 0
    metadata = json.loads((tmp_path / contracts.METADATA_FILE).read_text())
    assert metadata["hyperparameters"]["C"] == 5.0
    assert metadata["scores"]["cv_accuracy_mean"] is None
    original = json.loads((pipeline["model"] / contracts.METADATA_FILE).read_text())
    assert metadata["model_sha256"] != original["model_sha256"]


def test_unknown_hyperparameter_is_an_error() -> None:
    with pytest.raises(SystemExit):
        train.parse_args(["--max-it", "5"])  # a prefix is not accepted either


def test_hyperparameters_accept_dashes_or_underscores() -> None:
    args = train.parse_args(["--c", "0.5", "--max_iter", "50", "--cv_folds", "0", "--cv-repeats", "3"])
    assert (args.C, args.max_iter, args.cv_folds, args.cv_repeats) == (0.5, 50, 0, 3)


def test_runs_as_a_file_with_sagemaker_environment_variables(pipeline: dict[str, Path], tmp_path: Path) -> None:
    """SageMaker runs `python train.py --C 0.1 ...` with SM_* variables, from its own working folder."""
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(pipeline["splits"] / "train"),
        "SM_CHANNEL_VALIDATION": str(pipeline["splits"] / "validation"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "PYTHONPATH": "",
    }
    completed = subprocess.run(
        [sys.executable, str(REPO / "ml" / "train.py"), "--C", "0.1", "--seed", "42"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "model" / contracts.MODEL_FILE).read_bytes() == (
        pipeline["model"] / contracts.MODEL_FILE
    ).read_bytes()


def test_invalid_training_data_writes_no_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "train.csv"
    bad.write_text(
        "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
        '1,2,3,"A, Mr. B",male,22,1,0,T,7.25,,S\n'
    )
    argv = ["--train", str(bad), "--validation", str(bad), "--model-dir", str(tmp_path / "model")]
    assert train.main(argv) == train.EXIT_INVALID_DATA
    assert "row 1, column Survived: 2 is not an allowed value" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


RUN_TAGS = {"env": "prod", "purpose": "sagemaker-pipeline", "owner": "ml-platform-team"}


def test_with_run_tags_the_training_run_is_logged_to_mlflow_with_the_seed_004_names(
    pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # with an SQLite store, MLflow puts artifacts in ./mlruns
    splits = pipeline["splits"]
    argv = ["--train", str(splits / "train"), "--validation", str(splits / "validation"), "--cv-folds", "0"]
    argv += ["--model-dir", str(tmp_path / "model"), "--mlflow-run-tags", json.dumps(RUN_TAGS)]
    assert train.main(argv) == 0

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(tracking.experiment_name())
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "run_survival_42"
    train_sha = dataset.sha256_file(splits / "train" / contracts.split_file("train"))
    assert {key: run.data.tags[key] for key in tracking.RUN_TAG_KEYS} == {
        "dataset": f"train@sha256:{train_sha[:12]}",
        **RUN_TAGS,
    }
    assert run.data.params["C"] == "0.1" and run.data.params["seed"] == "42"
    metadata = json.loads((tmp_path / "model" / contracts.METADATA_FILE).read_text())
    assert run.data.metrics == {"training_accuracy": metadata["scores"]["training_accuracy"]}  # no cv: no cv scores


@pytest.mark.parametrize(
    "tags",
    ['{"env": "prod"}', '["env"]', '{"env": "prod", "purpose": "", "owner": "x"}', "not json"],
)
def test_malformed_run_tags_are_refused_before_training(tags: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        train.main(["--model-dir", str(tmp_path / "model"), "--mlflow-run-tags", tags])
    assert not (tmp_path / "model").exists()
