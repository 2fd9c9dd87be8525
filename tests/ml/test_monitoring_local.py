"""The monitor on this machine: the local server's capture hook, the traffic simulation of the local flow, and the
accessor `make drift` uses to find the latest registered model's baseline."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import load_environment
from ml import capture, contracts, drift, inference
from ml.local import capture as local_capture
from ml.local import latest, registry, server

from .payloads import GOOD, JSON, body


@pytest.fixture
def running(model: inference.Model) -> Iterator[server.ModelServer]:
    instance, thread = server.start_in_thread(model)
    yield instance
    instance.shutdown()
    instance.server_close()
    thread.join(timeout=5)


def post(running: server.ModelServer, data: bytes, content_type: str = JSON) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", running.server_address[1], timeout=5)
    try:
        connection.request("POST", "/invocations", data, {"Content-Type": content_type})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_server_captures_answered_invocations_only_while_a_writer_is_attached(running, tmp_path: Path) -> None:
    assert post(running, body(GOOD)) == 200  # no writer: nothing captured, nothing breaks
    local_capture.attach(running, local_capture.CaptureWriter(tmp_path))
    assert post(running, body(GOOD)) == 200
    assert post(running, b'{"instances": [') == 400  # refused requests never reach the hook
    local_capture.attach(running, None)
    assert post(running, body(GOOD[:1])) == 200
    [record] = capture.read_location(tmp_path)
    assert record.input is not None and json.loads(record.input.body()) == {"instances": GOOD}
    assert record.output is not None and len(json.loads(record.output.body())["predictions"]) == len(GOOD)
    assert record.input.content_type == JSON and record.event_id


def test_simulated_traffic_of_the_test_split_is_captured_and_checked(
    running, pipeline: dict, tmp_path: Path, capsys
) -> None:
    thresholds = load_environment("dev").monitoring
    passed, detail = local_capture.simulate_and_check(
        running, pipeline["splits"] / "test", pipeline["model"], thresholds, tmp_path / "capture"
    )
    out = capsys.readouterr().out
    assert passed, detail
    assert detail == "133 passengers in 68 requests (68 answered) captured: no drift (8 features)"
    assert "feature" in out and "Fare" in out  # the per-feature table is printed
    report = json.loads((tmp_path / "drift" / drift.REPORT_FILE).read_text())
    assert report["status"] == drift.OK and report["violations"]["rate"] == 0
    encodings = {r.input.encoding for r in capture.read_location(tmp_path / "capture") if r.input}
    assert encodings == {"JSON", "BASE64"}  # CSV requests as the deployed capture config writes them
    assert running.on_invocation is None  # the hook is removed afterwards


def test_simulation_fails_when_the_baseline_is_missing(running, pipeline: dict, tmp_path: Path) -> None:
    passed, detail = local_capture.simulate_and_check(
        running, pipeline["splits"] / "test", tmp_path, load_environment("dev").monitoring, tmp_path / "capture"
    )
    assert not passed and "no such baseline file" in detail


def test_latest_finds_the_registered_model_baseline(pipeline: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert latest.main(["baseline"]) == latest.EXIT_NONE
    assert "run `make run` first" in capsys.readouterr().err
    registry.register(
        model_dir=pipeline["model"],
        evaluation_dir=pipeline["evaluation"],
        metrics={"accuracy": 0.9},
        params={},
        tags={"env": "dev"},
        seed=42,
    )
    assert latest.main(["baseline"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed.name == contracts.BASELINE_FILE
    assert printed.read_bytes() == (pipeline["model"] / contracts.BASELINE_FILE).read_bytes()
