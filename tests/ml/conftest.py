"""Shared ML fixtures: the real data split, trained and evaluated once per session (about 2 s)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml import contracts, evaluate, inference, preprocess, train

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "titanic.csv"


def pytest_configure(config: pytest.Config) -> None:
    # matplotlib (plots in evaluate.py) calls pyparsing names that pyparsing deprecated: not our code, not our concern.
    # MLflow's SQLAlchemy store does the same with SQLAlchemy.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:matplotlib.*")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:mlflow.*")


def run_pipeline(root: Path, seed: int = 42) -> dict[str, Path]:
    """preprocess -> train -> evaluate into root, the way the local flow calls them; returns the folders."""
    paths = {"splits": root / "splits", "model": root / "model", "evaluation": root / "evaluation"}
    assert preprocess.main(["--input-dir", str(DATA), "--output-dir", str(paths["splits"]), "--seed", str(seed)]) == 0
    argv = ["--train", str(paths["splits"] / "train"), "--validation", str(paths["splits"] / "validation")]
    assert train.main([*argv, "--model-dir", str(paths["model"]), "--seed", str(seed)]) == 0
    test_dir = str(paths["splits"] / "test")
    assert (
        evaluate.main(
            ["--model-dir", str(paths["model"]), "--test-dir", test_dir, "--output-dir", str(paths["evaluation"])]
        )
        == 0
    )
    return paths


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return run_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def model(pipeline: dict[str, Path]) -> inference.Model:
    return inference.model_fn(str(pipeline["model"]))


@pytest.fixture(scope="session")
def evaluation(pipeline: dict[str, Path]) -> dict:
    return json.loads((pipeline["evaluation"] / contracts.EVALUATION_FILE).read_text())
