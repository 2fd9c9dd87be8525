"""The champion: `make approve` sets the MLflow alias, the next `make run` scores the champion on its own test split
and registers a worse candidate as Rejected with the reason. In process, against a throw-away MLflow store."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ml import contracts, evaluate, train
from ml.local import champion, flow, registry


@pytest.fixture(scope="module", autouse=True)
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("champion-store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        yield folder


def run(main: Callable[[list[str]], int], *argv: str) -> tuple[int, str]:
    """A command's exit code and everything it printed."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = main(list(argv))
    return code, output.getvalue()


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> dict:
    code, output = run(flow.main, "--work-dir", str(tmp_path_factory.mktemp("run1")))
    assert code == 0, output[-3000:]
    version = registry.get_version().version
    approve_code, approve_output = run(registry.main, "approve")
    return {"output": output, "version": version, "approve": (approve_code, approve_output)}


@pytest.fixture(scope="module")
def second(first: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("run2")
    code, output = run(flow.main, "--work-dir", str(work))
    return {"code": code, "output": output, "version": registry.get_version().version, "work": work}


@pytest.fixture(scope="module")
def overfitted_champion(second: dict, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A champion that has seen the test split (trained on all three splits): no honest candidate gets near it."""
    work = tmp_path_factory.mktemp("overfitted")
    splits = second["work"] / "splits"
    (work / "all").mkdir()
    for name in contracts.SPLITS:
        shutil.copyfile(splits / name / contracts.split_file(name), work / "all" / contracts.split_file(name))
    argv = ["--train", str(work / "all"), "--validation", str(splits / "validation"), "--cv-folds", "0", "--C", "100"]
    assert train.main([*argv, "--model-dir", str(work / "model")]) == 0
    argv = ["--model-dir", str(work / "model"), "--test-dir", str(splits / "test"), "--output-dir", str(work / "eval")]
    assert evaluate.main(argv) == 0
    registered = registry.register(
        model_dir=work / "model", evaluation_dir=work / "eval", metrics={}, params={}, tags={"env": "test"}, seed=0
    )
    assert run(registry.main, "approve", "--version", registered.version)[0] == 0
    return registered.version


@pytest.fixture(scope="module")
def third(overfitted_champion: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    code, output = run(flow.main, "--work-dir", str(tmp_path_factory.mktemp("run3")))
    return {"code": code, "output": output, "version": registry.get_version().version}


def test_without_a_champion_the_check_says_so(first: dict) -> None:
    assert "champion check: no champion yet (make approve sets one): nothing to compare" in first["output"]
    assert "champion: none yet (make approve sets one)" in first["output"]


def test_make_approve_sets_the_champion_alias(first: dict) -> None:
    code, output = first["approve"]
    assert code == 0
    assert f"titanic-survival: alias champion -> v{first['version']}" in output
    model = registry.client().get_registered_model(registry.MODEL_NAME)
    assert str(model.aliases[champion.CHAMPION_ALIAS]) == first["version"]
    assert str(model.aliases[registry.APPROVED_ALIAS]) == first["version"]  # approval_status mirror unchanged


def test_the_next_run_scores_the_champion_beside_the_candidate(first: dict, second: dict) -> None:
    assert second["code"] == 0, second["output"][-3000:]
    line = f"champion v{first['version']} on the same test split: accuracy 0.872 (candidate 0.872, tolerance 0.01)"
    assert f"{line}: passed" in second["output"]
    candidate = registry.client().get_model_version(registry.MODEL_NAME, second["version"])
    assert candidate.tags[registry.APPROVAL_TAG] == registry.PENDING
    assert candidate.tags[champion.CHAMPION_VERSION_TAG] == first["version"]
    metrics = registry.client().get_run(candidate.run_id).data.metrics
    assert metrics["champion_accuracy"] == metrics["accuracy"]  # same data and seed: the same model


def test_a_candidate_worse_than_the_champion_is_registered_rejected_with_the_reason(
    overfitted_champion: str, third: dict
) -> None:
    assert third["code"] == flow.EXIT_GATE
    assert "champion check refused the model" in third["output"]
    assert f"champion v{overfitted_champion} on the same test split: accuracy" in third["output"]
    assert "(candidate 0.872, tolerance 0.01): REFUSED" in third["output"]
    assert "smoke test" not in third["output"]  # a rejected candidate is not served
    candidate = registry.client().get_model_version(registry.MODEL_NAME, third["version"])
    assert candidate.tags[registry.APPROVAL_TAG] == registry.REJECTED
    assert "worse than the champion by" in candidate.tags[champion.REJECTION_REASON_TAG]
    assert champion.current().version == overfitted_champion  # the champion stays


def test_rejecting_the_champion_hands_the_alias_to_the_newest_other_approved_version(
    first: dict, overfitted_champion: str, third: dict
) -> None:
    code, output = run(registry.main, "reject", "--version", overfitted_champion)
    assert code == 0 and f"alias champion -> v{first['version']}" in output
    code, output = run(registry.main, "reject", "--version", first["version"])
    assert code == 0 and "alias champion -> none (no approved version)" in output
    assert champion.current() is None


def test_the_champion_scores_were_written_beside_the_candidate(second: dict) -> None:
    report = json.loads((second["work"] / "champion-evaluation" / contracts.EVALUATION_FILE).read_text())
    candidate = json.loads((second["work"] / "evaluation" / contracts.EVALUATION_FILE).read_text())
    assert report[contracts.METRICS_SECTION] == candidate[contracts.METRICS_SECTION]
    assert report["test_data"] == candidate["test_data"]  # the same test split
