"""ml/baseline.py: the drift baseline TrainModel writes beside the model (generic over the request columns)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from ml import baseline, contracts, dataset, schema


@pytest.fixture(scope="module")
def written(pipeline: dict[str, Path]) -> dict:
    return json.loads((pipeline["model"] / contracts.BASELINE_FILE).read_text())


def test_monitored_columns_come_from_the_request_schema_not_from_engineered_features() -> None:
    assert baseline.monitored_columns() == [
        ("Pclass", baseline.CATEGORICAL),
        ("Sex", baseline.CATEGORICAL),
        ("Age", baseline.NUMERIC),
        ("SibSp", baseline.NUMERIC),
        ("Parch", baseline.NUMERIC),
        ("Fare", baseline.NUMERIC),
        ("Cabin", baseline.PRESENCE),
        ("Embarked", baseline.CATEGORICAL),
    ]  # no PassengerId (an identifier), no Name or Ticket (free text, personal data)
    extra = schema.Column("Deck", "str", nullable=True)
    assert baseline.monitored_columns([*schema.INFERENCE_COLUMNS, extra])[-1] == ("Deck", baseline.PRESENCE)


def test_training_writes_a_versioned_baseline_of_the_fitted_passengers_and_their_predictions(written: dict) -> None:
    # The final model is fitted on train + validation (ml/train.py): the baseline describes exactly that population.
    assert written["baseline_version"] == baseline.BASELINE_VERSION
    assert written["reference"] == {"split": "train+validation", "rows": 758}
    assert set(written["features"]) == {name for name, _ in baseline.monitored_columns()}
    for feature in written["features"].values():
        assert feature["rows"] == 758
        if "counts" in feature:
            assert sum(feature["counts"]) == feature["rows"] - feature["missing"]
            assert sum(feature["frequencies"]) == pytest.approx(1.0, abs=1e-5)
    assert written["features"]["Age"]["missing_rate"] == pytest.approx(0.199, abs=0.001)
    assert written["features"]["Pclass"]["categories"] == ["1", "2", "3", baseline.OTHER]
    assert written["features"]["Cabin"] == {"kind": "presence", "rows": 758, "missing": 579, "missing_rate": 0.763852}
    prediction = written[baseline.PREDICTION]
    assert prediction["rows"] == 758 and sum(prediction["counts"]) == 758
    assert prediction["decision_threshold"] == 0.5
    assert 0.3 < prediction["positive_rate"] < 0.45


def test_no_bin_of_the_reference_is_empty(written: dict) -> None:
    for name, feature in [*written["features"].items(), (baseline.PREDICTION, written[baseline.PREDICTION])]:
        if feature["kind"] == baseline.NUMERIC:
            assert all(count > 0 for count in feature["counts"]), name


def test_quantile_edges_collapse_ties_and_never_end_on_the_maximum() -> None:
    assert baseline.quantile_edges([0] * 70 + [1] * 25 + [2] * 5) == [0, 1]
    assert baseline.quantile_edges([3.0] * 10) == []
    assert baseline.quantile_edges(list(range(1, 101))) == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert baseline.bin_counts([0, 0, 1, 2, 7], [0, 1]) == [2, 1, 2]  # right-closed: (-inf, 0], (0, 1], (1, inf)


def test_unseen_categories_go_to_the_other_bucket() -> None:
    reference = baseline.profile(baseline.CATEGORICAL, ["S", "C", None, "S"])
    assert reference["categories"] == ["C", "S", baseline.OTHER]
    live = baseline.profile(baseline.CATEGORICAL, ["Q", "S", "Q"], reference)
    assert live["counts"] == [0, 1, 2]
    assert reference["missing_rate"] == 0.25


def test_load_accepts_a_file_a_model_folder_and_a_model_archive(pipeline: dict[str, Path], tmp_path: Path) -> None:
    folder = pipeline["model"]
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in folder.iterdir():
            tar.add(path, arcname=path.name)
    loaded = [baseline.load(folder / contracts.BASELINE_FILE), baseline.load(folder), baseline.load(archive)]
    assert loaded[0] == loaded[1] == loaded[2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such baseline file"),
        (b"{not json", "not a JSON baseline"),
        (b'{"baseline_version": 99}', "baseline_version 99"),
        (b'{"baseline_version": 1}', "needs 'features'"),
    ],
)
def test_unusable_baselines_say_why(tmp_path: Path, content: bytes | None, message: str) -> None:
    if content is not None:
        (tmp_path / contracts.BASELINE_FILE).write_bytes(content)
    with pytest.raises(baseline.BaselineError, match=message):
        baseline.load(tmp_path)


def test_an_archive_without_a_baseline_says_so(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"{}"
        info = tarfile.TarInfo(contracts.METADATA_FILE)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(baseline.BaselineError, match=r"holds no baseline\.json"):
        baseline.load(archive)


def test_empty_reference_is_refused() -> None:
    with pytest.raises(baseline.BaselineError, match="zero records"):
        baseline.build([], [], 0.5, "train")


def test_baseline_is_deterministic_and_independent_of_record_order(pipeline: dict[str, Path], written: dict) -> None:
    records = [
        *dataset.read_records(pipeline["splits"] / "train")[0],
        *dataset.read_records(pipeline["splits"] / "validation")[0],
    ]
    probabilities = [0.1, 0.9, 0.35, 0.5, 0.72]
    first = baseline.dumps(baseline.build(records, probabilities, 0.5, "train+validation"))
    assert baseline.dumps(baseline.build(records[::-1], probabilities[::-1], 0.5, "train+validation")) == first
    assert json.loads(first)["features"] == written["features"]  # what TrainModel wrote from the same split
