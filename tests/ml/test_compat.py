"""Compatibility with the SageMaker scikit-learn 1.2-1 container (Python 3.9, scikit-learn 1.2.1, numpy 1.24,
pandas 1.1.3), as far as this machine checks it in the test suite. `ruff --target-version py39` (make lint) covers
syntax; `make container-parity` runs the scripts on the container's exact versions (not part of make test)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml import contracts

from .conftest import DATA, REPO

CONTAINER_CODE = sorted(p for p in (REPO / "ml").glob("*.py"))  # ml/local/ only runs locally
THIRD_PARTY_IN_CONTAINER = {"numpy", "sklearn", "joblib", "matplotlib"}  # matplotlib optional (plots only)
# Installed in the training job alone, from ml/requirements-training.txt, when the environment tracks with MLflow:
# only tracking.py may import it, and only inside a function (nothing imports it at module load).
TRAINING_ONLY = {"tracking.py": {"mlflow"}}
# The drift CLI reads an environment's thresholds from config/ when run on a checkout (`python -m ml.drift --env`):
# imported inside that function only; the monitor Lambda passes its thresholds and never reaches the import.
CHECKOUT_ONLY = {"drift.py": {"config"}}


@pytest.mark.parametrize("path", CONTAINER_CODE, ids=[p.name for p in CONTAINER_CODE])
def test_container_code_avoids_post_39_features_and_foreign_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imports = set()
    for node in ast.walk(tree):
        assert not isinstance(node, getattr(ast, "Match", ())), f"{path.name}:{node.lineno}: match needs Python 3.10"
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "zip":
            assert not any(k.arg == "strict" for k in node.keywords), f"{path.name}: zip(strict=) needs Python 3.10"
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
            assert not isinstance(node.args[1], ast.BinOp), f"{path.name}:{node.lineno}: isinstance(x, A | B) is 3.10+"
        if isinstance(node, ast.Import):
            imports |= {alias.name.split(".")[0] for alias in node.names}
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            imports.add(node.module.split(".")[0])
    top_level = {alias.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for alias in n.names}
    top_level |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    lazy_only = TRAINING_ONLY.get(path.name, set()) | CHECKOUT_ONLY.get(path.name, set())
    assert not top_level & lazy_only, f"{path.name}: import {lazy_only} lazily"
    allowed = THIRD_PARTY_IN_CONTAINER | lazy_only | {"ml", "__future__"}
    foreign = imports - set(sys.stdlib_module_names) - allowed
    assert not foreign, f"{path.name} imports {foreign}: not in the container (pandas is 1.1.3 there: not used)"
    assert "tomllib" not in imports, "tomllib is Python 3.11+"
    if tree.body and path.name != "__init__.py":
        future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
        assert future, f"{path.name}: needs `from __future__ import annotations` for X | None hints on 3.9"


def run_file(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ""}  # as in the container: nothing but the script's own folder
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What SageMaker receives as source_dir: ml/ without ml/local/, plus the one-line serving entry point."""
    code = tmp_path_factory.mktemp("code")
    shutil.copytree(REPO / "ml", code / "ml", ignore=shutil.ignore_patterns("local", "__pycache__"))
    (code / "inference.py").write_text("from ml.inference import input_fn, model_fn, output_fn, predict_fn  # noqa\n")
    return code


def test_entry_scripts_run_as_files_from_a_copy_of_ml_alone(
    code_dir: Path, pipeline: dict[str, Path], tmp_path: Path
) -> None:
    """ml/ is self-contained (no config/, no ml/local/) and each script runs as a file from any working folder."""
    ml = code_dir / "ml"
    done = run_file(
        [str(ml / "preprocess.py"), "--input-dir", str(DATA), "--output-dir", str(tmp_path / "s")], tmp_path
    )
    assert done.returncode == 0, done.stderr
    splits = tmp_path / "s"
    argv = ["--train", str(splits / "train"), "--validation", str(splits / "validation"), "--cv-folds", "0"]
    done = run_file([str(ml / "train.py"), *argv, "--model-dir", str(tmp_path / "m")], tmp_path)
    assert done.returncode == 0, done.stderr
    done = run_file(
        [
            str(ml / "evaluate.py"),
            "--model-dir",
            str(pipeline["model"]),
            "--test-dir",
            str(splits / "test"),
            "--output-dir",
            str(tmp_path / "e"),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "e" / contracts.EVALUATION_FILE).read_bytes() == (
        pipeline["evaluation"] / contracts.EVALUATION_FILE
    ).read_bytes()


def test_serving_entry_point_imports_as_a_top_level_module(code_dir: Path, pipeline: dict[str, Path], tmp_path):
    """The serving container puts source_dir on sys.path and imports the entry point module by name."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import inference; "
        "m = inference.model_fn(sys.argv[2]); "
        "print(inference.output_fn(inference.predict_fn(inference.input_fn(sys.argv[3], 'application/json'), m), "
        "'application/json')[0])"
    )
    request = json.dumps(
        {
            "instances": [
                {
                    "Pclass": 1,
                    "Name": "A, Mrs. B",
                    "Sex": "female",
                    "Age": 30,
                    "SibSp": 0,
                    "Parch": 0,
                    "Ticket": "X",
                    "Fare": 80.0,
                    "Cabin": "C1",
                    "Embarked": "C",
                }
            ]
        }
    )
    done = run_file(["-c", script, str(code_dir), str(pipeline["model"]), request], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["predictions"][0]["survived"] == 1
