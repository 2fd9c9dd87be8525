"""DataPreProcessing: stratified reproducible splits; invalid data refused with a precise message, nothing written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ml import contracts, dataset, preprocess

from .conftest import DATA


def split_ids(output: Path) -> dict[str, list[int]]:
    ids = {}
    for split in contracts.SPLITS:
        with (output / split / contracts.split_file(split)).open(newline="") as stream:
            ids[split] = [int(row["PassengerId"]) for row in csv.DictReader(stream)]
    return ids


def test_splits_are_stratified_disjoint_and_complete(pipeline: dict[str, Path]) -> None:
    ids = split_ids(pipeline["splits"])
    assert {split: len(members) for split, members in ids.items()} == {"train": 623, "validation": 135, "test": 133}
    every = [i for members in ids.values() for i in members]
    assert sorted(every) == list(range(1, 892))
    for split in contracts.SPLITS:
        records, _ = dataset.read_records(pipeline["splits"] / split)
        rate = sum(r["Survived"] for r in records) / len(records)
        assert rate == pytest.approx(342 / 891, abs=0.01), split


def test_splits_keep_every_raw_value(pipeline: dict[str, Path]) -> None:
    original = {r["PassengerId"]: r for r in dataset.read_records(DATA)[0]}
    for split in contracts.SPLITS:
        for record in dataset.read_records(pipeline["splits"] / split)[0]:
            assert record == original[record["PassengerId"]]


def test_same_seed_same_bytes_other_seed_other_split(tmp_path: Path, pipeline: dict[str, Path]) -> None:
    assert preprocess.main(["--input-dir", str(DATA), "--output-dir", str(tmp_path / "a"), "--seed", "42"]) == 0
    assert preprocess.main(["--input-dir", str(DATA), "--output-dir", str(tmp_path / "b"), "--seed", "7"]) == 0
    name = contracts.split_file("train")
    assert (tmp_path / "a/train" / name).read_bytes() == (pipeline["splits"] / "train" / name).read_bytes()
    assert split_ids(tmp_path / "a") != split_ids(tmp_path / "b")


def write_bad_csv(path: Path) -> None:
    lines = DATA.read_text().splitlines()[:6]
    lines[2] = lines[2].replace(",female,", ",robot,")  # row 2: unknown Sex
    lines[4] = lines[4].replace("4,1,1,", "4,1,4,", 1)  # row 4: Pclass 4
    lines[5] = "5,0,3"  # row 5: too few fields
    path.write_text("\n".join(lines) + "\n")


def test_invalid_data_exits_non_zero_names_rows_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "raw" / "bad.csv"
    bad.parent.mkdir()
    write_bad_csv(bad)
    output = tmp_path / "out"
    assert (
        preprocess.main(["--input-dir", str(bad.parent), "--output-dir", str(output)]) == preprocess.EXIT_INVALID_DATA
    )
    message = capsys.readouterr().err
    assert "nothing written" in message
    assert "row 2, column Sex: 'robot' is not an allowed value" in message
    assert "row 4, column Pclass: 4 is not an allowed value" in message
    assert "row 5: has 3 fields, the header has 12" in message
    assert not output.exists()


def test_invalid_data_leaves_previous_splits_untouched(pipeline: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "out"
    assert preprocess.main(["--input-dir", str(DATA), "--output-dir", str(output)]) == 0
    before = {p: p.read_bytes() for p in output.rglob("*.csv")}
    bad = tmp_path / "bad.csv"
    write_bad_csv(bad)
    assert preprocess.main(["--input-dir", str(bad), "--output-dir", str(output)]) == preprocess.EXIT_INVALID_DATA
    assert {p: p.read_bytes() for p in output.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no *.csv file in this folder"),
        (lambda d: (d / "a.csv").write_bytes(b""), "the file is empty"),
        (lambda d: (d / "a.csv").write_bytes(b"PassengerId,Survived\n1,0\n"), "required column is missing"),
        (lambda d: (d / "a.csv").write_bytes(DATA.read_text().splitlines()[0].encode() + b"\n"), "no data rows"),
    ],
)
def test_unusable_inputs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], setup, message: str) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    setup(raw)
    assert preprocess.main(["--input-dir", str(raw), "--output-dir", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_passenger_id_repeated_across_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = DATA.read_text().splitlines()
    (raw / "a.csv").write_text("\n".join(lines[:400]) + "\n")
    (raw / "b.csv").write_text("\n".join([lines[0], *lines[399:]]) + "\n")  # row of PassengerId 399 twice
    assert preprocess.main(["--input-dir", str(raw), "--output-dir", str(tmp_path / "out")]) == 2
    assert "ids appear in more than one file: 399" in capsys.readouterr().err


def test_several_files_are_read_as_one_data_set(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = DATA.read_text().splitlines()
    (raw / "a.csv").write_text("\n".join(lines[:400]) + "\n")
    (raw / "b.csv").write_text("\n".join([lines[0], *lines[400:]]) + "\n")
    assert preprocess.main(["--input-dir", str(raw), "--output-dir", str(tmp_path / "out")]) == 0
    assert sum(len(ids) for ids in split_ids(tmp_path / "out").values()) == 891


@pytest.mark.parametrize(
    "fractions", [["--train-fraction", "0.9", "--validation-fraction", "0.1"], ["--train-fraction", "0"]]
)
def test_fractions_that_leave_no_test_split_are_rejected(fractions: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        preprocess.parse_args(fractions)
    assert exit_info.value.code == 2


def test_defaults_are_the_sagemaker_processing_paths() -> None:
    args = preprocess.parse_args([])
    assert (args.input_dir, args.output_dir) == (contracts.RAW_INPUT_DIR, contracts.SPLIT_OUTPUT_ROOT)
