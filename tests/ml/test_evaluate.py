"""ModelEvaluation: evaluation.json in the model-quality layout, model quality, model.tar.gz, plots or their absence."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from config import load_environment
from ml import contracts, dataset, evaluate


def test_evaluation_json_has_exactly_the_contract_keys(evaluation: dict) -> None:
    section = evaluation[contracts.METRICS_SECTION]
    assert set(section) == {*contracts.QUALITY_METRICS, "confusion_matrix"}
    for metric in contracts.QUALITY_METRICS:
        assert set(section[metric]) == {"value", "standard_deviation"}
        assert 0.0 <= section[metric]["value"] <= 1.0
    matrix = section["confusion_matrix"]
    assert sum(matrix[a][p] for a in "01" for p in "01") == evaluation["test_data"]["rows"] == 133


def test_pipeline_json_paths_read_each_metric_its_baseline_and_lift(evaluation: dict) -> None:
    for metric in contracts.QUALITY_METRICS:
        value = contracts.json_path_value(evaluation, contracts.metric_json_path(metric))
        baseline = contracts.json_path_value(evaluation, contracts.baseline_json_path(metric))
        lift = contracts.json_path_value(evaluation, contracts.baseline_lift_json_path(metric))
        assert isinstance(value, float) and isinstance(baseline, float)
        assert lift == pytest.approx(value - baseline, abs=1e-6)
    with pytest.raises(ValueError, match="unknown quality metric"):
        contracts.baseline_lift_json_path("loss")


def test_the_baseline_is_the_gender_rule_on_the_same_test_split(pipeline: dict[str, Path], evaluation: dict) -> None:
    baseline = evaluation[contracts.BASELINE_SECTION]
    assert baseline[contracts.BASELINE_RULE_KEY] == "gender"
    assert set(baseline) == {"rule", *contracts.QUALITY_METRICS, "confusion_matrix", "lift"}
    test_rows = dataset.read_records(pipeline["splits"] / "test")[0]
    women = [r for r in test_rows if r["Sex"] == "female"]
    survivors = [r for r in test_rows if r["Survived"] == 1]
    matrix = baseline["confusion_matrix"]
    assert matrix["1"]["1"] == sum(r["Survived"] for r in women)  # predicted to survive: exactly the women
    assert matrix["0"]["1"] + matrix["1"]["1"] == len(women)
    assert baseline["recall"]["value"] == round(matrix["1"]["1"] / len(survivors), 6)
    assert baseline["accuracy"]["value"] == 0.842105  # this split's gender rule (the data set's is 0.787)


def test_model_beats_the_gender_baseline_by_the_configured_margin(evaluation: dict) -> None:
    margin = load_environment("dev").ml.baseline_margin
    accuracy = evaluation[contracts.METRICS_SECTION]["accuracy"]["value"]
    assert accuracy >= 0.80
    assert evaluation[contracts.BASELINE_SECTION]["lift"]["accuracy"] >= margin
    assert evaluation[contracts.METRICS_SECTION]["auc"]["value"] > 0.85


def test_plots_are_png_files(pipeline: dict[str, Path]) -> None:
    for name in ("confusion_matrix.png", "roc_curve.png"):
        assert (pipeline["evaluation"] / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_tar_gz_as_sagemaker_delivers_it(pipeline: dict[str, Path], evaluation: dict, tmp_path: Path) -> None:
    model_input = tmp_path / "model"
    model_input.mkdir()
    with tarfile.open(model_input / "model.tar.gz", "w:gz") as tar:
        for name in (contracts.MODEL_FILE, contracts.METADATA_FILE):
            tar.add(pipeline["model"] / name, arcname=name)
    test_dir = str(pipeline["splits"] / "test")
    assert (
        evaluate.main(["--model-dir", str(model_input), "--test-dir", test_dir, "--output-dir", str(tmp_path / "e")])
        == 0
    )
    assert json.loads((tmp_path / "e" / contracts.EVALUATION_FILE).read_text()) == evaluation


def test_an_archive_that_escapes_its_folder_is_refused(pipeline: dict[str, Path], tmp_path: Path) -> None:
    model_input = tmp_path / "model"
    model_input.mkdir()
    with tarfile.open(model_input / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    test_dir = str(pipeline["splits"] / "test")
    assert (
        evaluate.main(["--model-dir", str(model_input), "--test-dir", test_dir, "--output-dir", str(tmp_path / "e")])
        == 2
    )
    assert not (tmp_path / "escaped.txt").exists()


def test_without_matplotlib_plots_are_skipped_not_fatal(
    pipeline: dict[str, Path],
    evaluation: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    test_dir = str(pipeline["splits"] / "test")
    assert (
        evaluate.main(["--model-dir", str(pipeline["model"]), "--test-dir", test_dir, "--output-dir", str(tmp_path)])
        == 0
    )
    assert "plots skipped" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [contracts.EVALUATION_FILE]
    assert json.loads((tmp_path / contracts.EVALUATION_FILE).read_text()) == evaluation


def test_defaults_are_the_sagemaker_processing_paths() -> None:
    args = evaluate.parse_args([])
    assert (args.model_dir, args.test_dir, args.output_dir) == (
        contracts.MODEL_INPUT_DIR,
        contracts.TEST_INPUT_DIR,
        contracts.EVALUATION_OUTPUT_DIR,
    )


def test_the_models_baseline_is_published_from_the_archive_as_trained(
    pipeline: dict[str, Path], tmp_path: Path
) -> None:
    model_input = tmp_path / "model"
    model_input.mkdir()
    with tarfile.open(model_input / "model.tar.gz", "w:gz") as tar:
        for name in (contracts.MODEL_FILE, contracts.METADATA_FILE, contracts.BASELINE_FILE):
            tar.add(pipeline["model"] / name, arcname=name)
    argv = ["--model-dir", str(model_input), "--test-dir", str(pipeline["splits"] / "test")]
    published = tmp_path / "baseline"
    assert evaluate.main([*argv, "--output-dir", str(tmp_path / "e"), "--baseline-output-dir", str(published)]) == 0
    assert (published / contracts.BASELINE_FILE).read_bytes() == (
        pipeline["model"] / contracts.BASELINE_FILE
    ).read_bytes()


def test_a_model_without_a_baseline_is_not_evaluated_when_the_baseline_is_asked_for(
    pipeline: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_input = tmp_path / "model"
    model_input.mkdir()
    for name in (contracts.MODEL_FILE, contracts.METADATA_FILE):  # a model trained before baselines existed
        (model_input / name).write_bytes((pipeline["model"] / name).read_bytes())
    argv = ["--model-dir", str(model_input), "--test-dir", str(pipeline["splits"] / "test")]
    output = tmp_path / "e"
    assert evaluate.main([*argv, "--output-dir", str(output), "--baseline-output-dir", str(tmp_path / "b")]) == 2
    assert "no usable drift baseline" in capsys.readouterr().err
    assert not (output / contracts.EVALUATION_FILE).exists() and not (tmp_path / "b").exists()
