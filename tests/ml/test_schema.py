"""ml/schema.py, the raw passenger contract: typing rules and every kind of bad input it must name."""

from __future__ import annotations

import pytest

from ml import schema

from .conftest import DATA

HEADER = DATA.read_text().splitlines()[0]
ROW = '1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S'


@pytest.mark.parametrize(
    ("column", "raw", "value"),
    [
        ("Pclass", "3", 3),
        ("Pclass", 3.0, 3),
        ("Pclass", " 2 ", 2),
        ("Age", "22", 22.0),
        ("Age", "0.42", 0.42),
        ("Age", "", None),
        ("Age", None, None),
        ("Fare", 7, 7.0),
        ("Sex", " female ", "female"),
        ("Cabin", "", None),
        ("Embarked", "Q", "Q"),
    ],
)
def test_values_are_typed(column: str, raw: object, value: object) -> None:
    assert schema.COLUMNS_BY_NAME[column].parse(raw) == value


@pytest.mark.parametrize(
    ("column", "raw", "reason"),
    [
        ("Pclass", "", "is required but empty"),
        ("Pclass", "first", "expected an integer"),
        ("Pclass", 2.5, "expected an integer"),
        ("Pclass", True, "got boolean"),
        ("Pclass", 4, "4 is not an allowed value"),
        ("Age", "old", "expected a number"),
        ("Age", "nan", "expected a finite number"),
        ("Age", "inf", "expected a finite number"),
        ("Age", 121, "above the maximum 120"),
        ("Age", -0.5, "below the minimum 0"),
        ("Fare", [1], "expected a number, got list"),
        ("SibSp", -1, "below the minimum 0"),
        ("Sex", "M", "'M' is not an allowed value"),
        ("Sex", 1, "expected text, got int"),
        ("Embarked", "s", "'s' is not an allowed value"),
        ("Name", "   ", "is required but empty"),
    ],
)
def test_bad_values_are_refused_with_the_reason(column: str, raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("[", r"\[")):
        schema.COLUMNS_BY_NAME[column].parse(raw)


def test_parse_record_reports_every_problem_and_allows_missing_optional_fields() -> None:
    values, errors = schema.parse_record({"Pclass": 9, "Sex": "female", "Age": "x"})
    assert dict(errors) == {
        "Pclass": "9 is not an allowed value (1, 2, 3)",
        "Name": "is missing",
        "Age": "expected a number, got 'x'",
        "SibSp": "is missing",
        "Parch": "is missing",
        "Ticket": "is missing",
    }
    assert values["PassengerId"] is None and values["Cabin"] is None  # optional or nullable: absent means null


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "file: the file is empty"),
        (b"\xff\xfe\x00P", "file: not UTF-8 text"),
        (csv_bytes(ROW).replace(b"Braund", b"Bra\x00und"), "file: not a CSV text file (contains NUL bytes)"),
        (csv_bytes(), "file: no data rows (header only)"),
        (csv_bytes(ROW, header=HEADER.replace(",Embarked", "")), "file, column Embarked: required column is missing"),
        (csv_bytes(ROW + ",x", header=HEADER + ",Deck"), "file, column Deck: unknown column"),
        (csv_bytes(ROW, header=HEADER.replace("Cabin", "Fare")), "file, column Fare: column appears more than once"),
        (csv_bytes(ROW, ROW), "row 2, column PassengerId: duplicate PassengerId 1 (first seen in row 1)"),
        (csv_bytes(ROW + ",extra"), "row 1: has 13 fields, the header has 12"),
        (csv_bytes(ROW.replace(",male,", ",,")), "row 1, column Sex: is required but empty"),
    ],
)
def test_files_with_problems_name_row_column_and_reason(data: bytes, problem: str) -> None:
    _, report = schema.validate_csv_bytes(data)
    assert not report.valid
    assert any(str(p).startswith(problem) for p in report.problems), [str(p) for p in report.problems]
    assert report.to_dict()["problem_count"] == len(report.problems)


def test_the_problem_list_is_bounded() -> None:
    rows = [ROW.replace("1,0,3,", f"{i},0,9,", 1) for i in range(1, 51)]
    _, report = schema.validate_csv_bytes(csv_bytes(*rows), max_problems=10)
    assert len(report.problems) == 10 and report.truncated
    assert report.rows_checked == 50
    assert "list truncated" in report.summary()
    assert report.counts() == {"Pclass": 10}


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(ROW).replace(b"\n", b"\r\n")
    records, report = schema.validate_csv_bytes(data)
    assert report.valid and records[0]["Name"] == "Braund, Mr. Owen Harris"


def test_inference_columns_are_the_training_columns_without_the_label() -> None:
    expected = tuple(c.name for c in schema.TRAINING_COLUMNS if c.name != schema.LABEL)
    assert expected == schema.INFERENCE_COLUMN_NAMES
    assert schema.INFERENCE_COLUMNS[0].nullable  # PassengerId is optional when predicting
