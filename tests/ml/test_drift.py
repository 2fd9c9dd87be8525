"""ml/drift.py: the drift check on real-format capture files (tests/ml/fixtures/capture), through its CLI and core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import load_environment
from ml import baseline, capture, contracts, drift, drift_report

from .capture_fixtures import FIXTURES
from .conftest import REPO

JSON = contracts.JSON_CONTENT_TYPE
DEV = drift.Thresholds.from_settings(load_environment("dev").monitoring)


def run(capture_path: Path, baseline_path: Path, output: Path) -> tuple[int, dict | None]:
    code = drift.main(["--capture", str(capture_path), "--baseline", str(baseline_path), "--output-dir", str(output)])
    report = output / drift.REPORT_FILE
    return code, json.loads(report.read_text()) if report.exists() else None


def test_a_population_like_the_training_one_is_no_drift(pipeline: dict, tmp_path: Path, capsys) -> None:
    code, report = run(FIXTURES / "similar", pipeline["model"], tmp_path)
    out = capsys.readouterr().out
    assert code == drift.EXIT_OK
    assert report is not None and report["status"] == drift.OK and report["alarms"] == []
    assert report["traffic"]["records"] == 133 and report["traffic"]["requests"] == 68
    assert {row["feature"] for row in report["features"]} == {name for name, _ in baseline.monitored_columns()}
    assert all(row["psi"] is not None and row["psi"] < DEV.psi_threshold for row in report["features"])
    assert "verdict: no drift (8 features within thresholds, 133 records in 68 requests)" in out
    assert not (tmp_path / drift.PLOT_FILE).exists()


def test_a_clearly_shifted_population_is_drift_naming_the_features(pipeline: dict, tmp_path: Path, capsys) -> None:
    code, report = run(FIXTURES / "shifted", pipeline["model"], tmp_path)
    out = capsys.readouterr().out
    assert code == drift.EXIT_DRIFT
    assert report is not None and report["status"] == drift.DRIFT
    assert {"Pclass", "Fare", "Age"} <= set(report["alarms"])
    assert "Sex" not in report["alarms"]  # first class held both sexes in the training proportions
    rows = {row["feature"]: row for row in report["features"]}
    assert rows["Age"]["missing_rate_live"] > 0.8 and "missing rate" in rows["Age"]["reasons"][0]
    assert rows["Fare"]["psi"] > 1 and rows["Fare"]["p_value"] < 1e-10
    assert report["prediction"]["drifted"] and "prediction" not in report["alarms"]  # informational by default
    assert "verdict: DRIFT in Pclass, Age, Fare" in out
    assert (tmp_path / drift.PLOT_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_broken_file_is_unusable_input_naming_file_and_line(pipeline: dict, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ml.drift", "--capture", str(FIXTURES / "broken"), "--baseline", str(pipeline["model"])],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == drift.EXIT_UNUSABLE
    assert "00-00-000-broken.jsonl:2: not a JSON object" in completed.stderr
    assert "Traceback" not in completed.stderr and not (tmp_path / "drift-report").exists()


@pytest.mark.parametrize("what", ["capture", "baseline", "env"])
def test_missing_inputs_are_unusable(pipeline: dict, tmp_path: Path, capsys, what: str) -> None:
    argv = {"capture": str(FIXTURES / "similar"), "baseline": str(pipeline["model"]), "env": "dev"}
    argv[what] = "qa" if what == "env" else str(tmp_path / "nowhere")
    code = drift.main([f"--{k}={v}" for k, v in argv.items()] + ["--output-dir", str(tmp_path / "out")])
    assert code == drift.EXIT_UNUSABLE
    assert ("Unknown environment 'qa'" if what == "env" else "nowhere") in capsys.readouterr().err


def test_schema_invalid_and_unreadable_records_are_counted_and_reported(pipeline: dict, tmp_path: Path) -> None:
    code, report = run(FIXTURES / "violations", pipeline["model"], tmp_path)
    assert code == drift.EXIT_DRIFT and report is not None and report["alarms"] == [drift.SCHEMA_VIOLATIONS]
    violations = report["violations"]
    assert (violations["invalid_passengers"], violations["unreadable_requests"]) == (8, 2)
    assert violations["rate"] == pytest.approx(10 / 105, abs=1e-6)
    assert violations["by_column"] == {
        drift.REQUEST: 2,
        drift.UNKNOWN_FIELD: 1,
        "Age": 2,
        "Name": 2,
        "Pclass": 1,
        "Sex": 3,
        "Ticket": 1,
    }
    assert report["traffic"]["unreadable_responses"] == 10  # the endpoint answered them with an error body
    text = json.dumps(violations["examples"])
    assert "robot" in text and "Name is missing" in text
    assert "12345" not in text and "Ticket is invalid (value withheld)" in text  # personal data never repeated
    assert all(example["line"] >= 1 and example["source"].endswith(".jsonl") for example in violations["examples"])


def test_not_enough_traffic_judges_nothing(pipeline: dict, tmp_path: Path, capsys) -> None:
    first = sorted((FIXTURES / "shifted").rglob("*.jsonl"))[0]
    few = tmp_path / "few.jsonl"
    few.write_text("".join(first.read_text().splitlines(keepends=True)[:20]))
    code, report = run(few, pipeline["model"], tmp_path / "out")
    assert code == drift.EXIT_OK and report is not None
    assert report["status"] == drift.NOT_ENOUGH_TRAFFIC and report["features"] == [] and report["alarms"] == []
    assert "not enough traffic" in capsys.readouterr().out
    assert drift.metrics(report) == [{"name": "CapturedRecords", "value": 37.0, "unit": "Count", "dimensions": {}}]


def _records(content_types: dict | None, people: list[dict]) -> list[capture.Record]:
    lines = []
    for index, passenger in enumerate(people):
        if index % 2:
            body, kind = json.dumps({"instances": [passenger]}).encode(), JSON
        else:
            row = ",".join("" if passenger[c] is None else f'"{passenger[c]}"' for c in passenger)
            body, kind = (row + "\n").encode(), contracts.CSV_CONTENT_TYPE
        record = capture.make_record((body, kind), (b"", JSON), f"e{index}", capture_time(), content_types)
        lines.append(capture.dumps(record))
    return capture.parse_lines("".join(lines), "mixed.jsonl")


def capture_time() -> datetime:
    return datetime(2026, 11, 30, 10, tzinfo=UTC)


def test_json_csv_and_base64_captures_of_the_same_passengers_give_the_same_profile(pipeline: dict) -> None:
    from .capture_fixtures import similar

    people = similar()
    reference = baseline.load(pipeline["model"])
    as_text = drift.check(_records({"json": [JSON], "csv": [contracts.CSV_CONTENT_TYPE]}, people), reference, DEV)
    as_base64 = drift.check(_records({"json": [], "csv": []}, people), reference, DEV)
    assert as_text["features"] == as_base64["features"] and as_text["traffic"]["valid_passengers"] == len(people)


def test_metrics_for_the_monitor(pipeline: dict) -> None:
    report = drift.check(capture.read_location(FIXTURES / "shifted"), baseline.load(pipeline["model"]), DEV)
    by_name = {(m["name"], m["dimensions"].get("Feature")): m for m in drift.metrics(report)}
    assert by_name[("DriftDetected", None)]["value"] == 1.0
    assert by_name[("DriftedFeatures", None)]["value"] == len(report["alarms"])
    assert by_name[("CapturedRecords", None)] == {
        "name": "CapturedRecords",
        "value": 120.0,
        "unit": "Count",
        "dimensions": {},
    }
    assert by_name[("FeaturePSI", "Fare")]["value"] > 1
    assert by_name[("FeatureMissingRate", "Age")]["value"] > 0.8
    assert ("FeaturePSI", "Age") not in by_name  # 19 present ages: not judged, not published
    assert {"SchemaViolationRate", "PredictionPSI", "PositiveRate"} <= {name for name, _ in by_name}


def test_prediction_drift_alarms_when_configured(pipeline: dict) -> None:
    strict = drift.Thresholds.from_settings({**DEV.__dict__, "prediction_drift_alarms": True})
    report = drift.check(capture.read_location(FIXTURES / "shifted"), baseline.load(pipeline["model"]), strict)
    assert "prediction" in report["alarms"]
    [line] = [line for line in drift_report.table(report).splitlines() if line.startswith("prediction")]
    assert "DRIFT: distribution moved" in line and "not alarming" not in line


def test_the_core_runs_without_numpy_scikit_learn_or_matplotlib(pipeline: dict) -> None:
    """What the monitor Lambda imports: the check works with the scientific stack made unimportable."""
    script = (
        "import sys\n"
        "for name in ('numpy', 'sklearn', 'joblib', 'matplotlib', 'scipy', 'config', 'pydantic'):\n"
        "    sys.modules[name] = None\n"
        "from ml import baseline, capture, drift\n"
        "th = drift.Thresholds(0.25, 0.01, 100, 0.2, 0.05, False)\n"
        "records = capture.read_location(sys.argv[1])\n"
        "report = drift.check(records, baseline.loads(open(sys.argv[2]).read(), 'b'), th)\n"
        "print(report['status'], sorted(report['alarms']), len(drift.metrics(report)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(FIXTURES / "shifted"), str(pipeline["model"] / contracts.BASELINE_FILE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("drift ['Age', 'Cabin', 'Embarked', 'Fare', 'Pclass']")


def test_thresholds_have_the_config_names() -> None:
    assert drift.Thresholds(0.25, 0.01, 100, 0.2, 0.05, False) == DEV


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_configured_thresholds_rarely_alarm_when_nothing_changed(env: str) -> None:
    """Reference and window drawn from one population (a seeded shuffle, so the figure is reproducible)."""
    from ml.local import drift_calibration

    thresholds = drift.Thresholds.from_settings(load_environment(env).monitoring)
    rate, _ = drift_calibration.false_alarm_rate(thresholds, thresholds.min_records, trials=100, seed=1)
    assert rate <= 0.03


def test_the_calibration_command_prints_rates_and_timing(capsys) -> None:
    from ml.local import drift_calibration

    assert drift_calibration.main(["--trials", "5", "--records", "300"]) == 0
    out = capsys.readouterr().out
    assert "windows with an alarm" in out and "one window of 300 capture records" in out
