"""The local flow end to end (make run's ML part) against a real loopback server, the quality gate refusing a
weak model, and the registry's approval commands. MLflow uses a throw-away SQLite store per module."""

from __future__ import annotations

import http.client
import json
import os
import sys
from pathlib import Path

import pytest
from offline_run import run_offline

from config import load_environment
from ml import contracts, inference
from ml.local import flow, registry, server

from .conftest import REPO


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(autouse=True)
def isolated_registry(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")


@pytest.fixture(scope="module")
def flow_run(store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, str]:
    """`python -m ml.local.flow` as make run starts it, in a network namespace where only loopback is up
    (scripts/offline_run.py): the flow (MLflow included) must need no network beyond its own server on 127.0.0.1."""
    work = tmp_path_factory.mktemp("flow")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"}
    completed = run_offline(
        [sys.executable, "-m", "ml.local.flow", "--work-dir", str(work)],
        loopback=True,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return completed.returncode, work, completed.stdout + completed.stderr


def test_the_sandbox_really_has_no_network() -> None:
    probe = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=2)"
    completed = run_offline([sys.executable, "-c", probe], loopback=True, capture_output=True, text=True, check=False)
    assert completed.returncode != 0 and "Network is unreachable" in completed.stderr


def test_flow_registers_a_pending_model_and_passes_the_smoke_test(flow_run: tuple[int, Path, str], store: Path) -> None:
    code, work, output = flow_run
    assert code == 0, output[-3000:]
    steps = (
        "DataPreProcessing",
        "TrainModel",
        "ModelEvaluation",
        "quality gate",
        "champion check",
        "register (MLflow)",
    )
    for step in steps:
        assert f"] {step}: " in output
    assert "smoke test over HTTP: ping ok, 7 checks passed" in output
    version = registry.get_version()
    assert version.approval_status == registry.PENDING
    assert version.experiment.startswith("exp_titanic-sagemaker_")
    assert version.run_name == "run_survival_42"
    client = registry.client()
    run = client.get_run(version.run_id)
    assert {"dataset", "env", "purpose", "owner"} <= set(run.data.tags)
    assert run.data.tags["env"] == "dev"
    assert run.data.tags["owner"] == load_environment("dev").owner
    evaluation = json.loads((work / "evaluation" / contracts.EVALUATION_FILE).read_text())
    assert run.data.metrics["accuracy"] == evaluation[contracts.METRICS_SECTION]["accuracy"]["value"]
    assert run.data.params["C"] == "0.1"
    assert run.data.metrics["baseline_accuracy"] == evaluation[contracts.BASELINE_SECTION]["accuracy"]["value"]
    model_dir = registry.model_path(version)
    assert (model_dir / contracts.MODEL_FILE).read_bytes() == (work / "model" / contracts.MODEL_FILE).read_bytes()
    assert (store / "artifacts").is_dir()  # artifacts beside the store, not in the working folder


def test_gate_refuses_a_model_below_the_threshold_and_registers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'untouched.db'}")
    code = flow.main(["--work-dir", str(tmp_path / "work"), "--threshold", "0.99"])
    assert code == flow.EXIT_GATE
    err = capsys.readouterr().err
    assert "quality gate refused the model: accuracy" in err and "< 0.99" in err and "below the threshold" in err
    assert "nothing was registered" in err
    assert not (tmp_path / "untouched.db").exists()


def test_gate_refuses_a_model_that_does_not_beat_the_gender_rule_by_the_margin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'untouched.db'}")
    code = flow.main(["--work-dir", str(tmp_path / "work"), "--baseline-margin", "0.2"])
    assert code == flow.EXIT_GATE
    err = capsys.readouterr().err
    assert "lift over the gender rule (0.842)" in err and "< 0.2: short of the baseline margin" in err
    assert "below the threshold" not in err  # 0.78 is met: the margin alone refused it
    assert not (tmp_path / "untouched.db").exists()


def test_invalid_data_stops_the_flow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("PassengerId,Survived\n1,0\n")
    assert flow.main(["--work-dir", str(tmp_path / "work"), "--data", str(bad)]) == flow.EXIT_INVALID_DATA


def test_approve_and_reject_update_the_status_tag_and_alias(flow_run: tuple[int, Path, str]) -> None:
    version = registry.get_version().version
    assert registry.main(["approve", "--version", version]) == 0
    assert registry.get_version(version).approval_status == registry.APPROVED
    model = registry.client().get_registered_model(registry.MODEL_NAME)
    assert str(model.aliases[registry.APPROVED_ALIAS]) == version
    assert registry.main(["reject"]) == 0  # the latest version by default
    assert registry.get_version(version).approval_status == registry.REJECTED
    assert registry.APPROVED_ALIAS not in registry.client().get_registered_model(registry.MODEL_NAME).aliases


def test_unknown_version_is_a_clear_error(flow_run: tuple[int, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert registry.main(["approve", "--version", "999"]) == 1
    assert "has no version 999" in capsys.readouterr().err


def test_make_serve_resolves_the_latest_registered_model_and_serves_it(flow_run: tuple[int, Path, str]) -> None:
    model_dir, label = server.resolve_model(None, None)
    latest = registry.get_version()
    assert label.startswith(f"{registry.MODEL_NAME} v{latest.version} ({latest.approval_status})")
    assert ("not approved" in label) == (latest.approval_status != registry.APPROVED)
    running, _ = server.start_in_thread(inference.model_fn(str(model_dir)))
    try:
        connection = http.client.HTTPConnection("127.0.0.1", running.server_address[1], timeout=5)
        connection.request("GET", "/ping")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        running.shutdown()
        running.server_close()


def test_serve_without_a_registered_model_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def nothing_registered(version: str | None) -> registry.RegisteredVersion:
        raise registry.RegistryError("no model registered: run `make run` first")

    monkeypatch.setattr(registry, "get_version", nothing_registered)  # an empty store costs 5 s of migrations
    assert server.main(["--port", "0"]) == 1
    assert "serve: no model registered: run `make run` first" in capsys.readouterr().err


def test_an_unusable_registry_is_a_clear_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'not-a-folder' / 'mlflow.db'}")
    assert flow.main(["--work-dir", str(tmp_path / "work")]) == flow.EXIT_REGISTRY
    out = capsys.readouterr().out
    assert "champion check: FAILED" in out and "(store: sqlite:///" in out  # the first step that reads the store
