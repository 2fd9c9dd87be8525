"""ml/capture.py and the local CaptureWriter: the SageMaker data-capture format, written and read back."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ml import capture, contracts, inference
from ml.local.capture import CaptureWriter

from .capture_fixtures import ENDPOINT, FIXTURES, generate

JSON, CSV = contracts.JSON_CONTENT_TYPE, contracts.CSV_CONTENT_TYPE
WHEN = datetime(2026, 11, 30, 23, 59, 58, tzinfo=UTC)
ROW = b'1,1,"Cumings, Mrs. John",female,38,1,0,PC 17599,71.2833,C85,C\n'


def test_json_and_listed_csv_bodies_are_captured_as_text_other_types_as_base64() -> None:
    listed = {"json": [JSON], "csv": [CSV]}
    record = capture.make_record((ROW, "text/csv; charset=utf-8"), (b"1,0.9\n", CSV), "e-1", WHEN, listed)
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv; charset=utf-8",
        "mode": "INPUT",
        "data": ROW.decode(),
        "encoding": "CSV",
    }
    assert record["eventMetadata"] == {"eventId": "e-1", "inferenceTime": "2026-11-30T23:59:58Z"}
    assert record["eventVersion"] == "0"
    # As the promotion workflow configures capture (JsonContentTypes only): CSV bodies are BASE64.
    deployed = capture.make_record((ROW, CSV), (b'{"predictions": []}', JSON), "e-2", WHEN)
    assert deployed["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(deployed["captureData"]["endpointInput"]["data"]) == ROW
    assert deployed["captureData"]["endpointOutput"]["encoding"] == "JSON"
    not_text = capture.make_record((b"\xff\xfe", JSON), (b"", JSON), "e-3", WHEN)
    assert not_text["captureData"]["endpointInput"]["encoding"] == "BASE64"  # undecodable as text


def test_records_read_back_with_their_bodies_file_and_line() -> None:
    lines = [
        capture.dumps(capture.make_record((ROW, CSV), (b"0,0.1\n", CSV), f"e-{i}", WHEN, {"csv": [CSV]}))
        for i in range(2)
    ]
    records = capture.parse_lines("".join(lines[:1]) + "\n" + lines[1], "s3://bucket/key.jsonl")
    assert [(r.source, r.line, r.event_id) for r in records] == [
        ("s3://bucket/key.jsonl", 1, "e-0"),
        ("s3://bucket/key.jsonl", 3, "e-1"),  # blank lines are skipped, numbering is the file's
    ]
    assert records[0].input is not None and records[0].input.body() == ROW
    assert records[0].output is not None and records[0].output.encoding == "CSV"
    assert records[0].inference_time == "2026-11-30T23:59:58Z"


def test_input_only_capture_has_no_output() -> None:
    record = {"captureData": {"endpointInput": {"mode": "INPUT", "data": "", "encoding": "JSON"}}}
    [read] = capture.parse_lines(json.dumps(record), "f")
    assert read.output is None and read.event_id is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"captureData": {"endpointInput": {"data": "x", "encoding": "JSON"}', "not a JSON object"),
        ("[1, 2]", "no captureData"),
        ('{"captureData": {}}', "no captureData"),
        ('{"captureData": {"endpointInput": "x"}}', "is not an object"),
        ('{"captureData": {"endpointInput": {"data": "x", "encoding": "GZIP"}}}', "encoding 'GZIP'"),
        ('{"captureData": {"endpointInput": {"data": 3, "encoding": "JSON"}}}', "data is not a string"),
        ('{"captureData": {"endpointInput": {"mode": "OUTPUT", "data": "", "encoding": "JSON"}}}', "expected 'INPUT'"),
    ],
)
def test_a_malformed_line_names_the_file_and_the_line(line: str, reason: str) -> None:
    good = capture.dumps(capture.make_record((b"{}", JSON), (b"{}", JSON), "e", WHEN))
    with pytest.raises(capture.CaptureFormatError) as error:
        capture.parse_lines(good + line + "\n", "data-capture/x.jsonl")
    assert (error.value.source, error.value.line) == ("data-capture/x.jsonl", 2)
    assert str(error.value).startswith("data-capture/x.jsonl:2: ") and reason in str(error.value)


def test_base64_that_does_not_decode_is_a_payload_problem_not_a_format_error() -> None:
    line = '{"captureData": {"endpointInput": {"data": "not base64!", "encoding": "BASE64"}}}'
    [record] = capture.parse_lines(line, "f")
    assert record.input is not None
    with pytest.raises(ValueError, match="BASE64"):
        record.input.body()


def test_read_location_walks_folders_and_refuses_missing_or_empty_ones(tmp_path: Path) -> None:
    assert len(capture.read_location(FIXTURES / "similar")) == 68
    with pytest.raises(capture.CaptureFormatError, match="no such file or folder"):
        capture.read_location(tmp_path / "nowhere")
    with pytest.raises(capture.CaptureFormatError, match=r"no \*\.jsonl capture file"):
        capture.read_location(tmp_path)
    good = capture.dumps(capture.make_record((b"{}", JSON), (b"", JSON), "e", WHEN)).encode()
    (tmp_path / "bad.jsonl").write_bytes(good + b"\xff\n")
    with pytest.raises(capture.CaptureFormatError, match=r"bad\.jsonl:2: not UTF-8"):
        capture.read_location(tmp_path)


def test_window_prefixes_are_the_complete_hours_before_the_run() -> None:
    end = datetime(2026, 12, 1, 1, 5, tzinfo=UTC)
    assert capture.window_prefixes("data-capture/dev", "titanic-dev-prod", "AllTraffic", end, 3) == [
        "data-capture/dev/titanic-dev-prod/AllTraffic/2026/11/30/22/",
        "data-capture/dev/titanic-dev-prod/AllTraffic/2026/11/30/23/",
        "data-capture/dev/titanic-dev-prod/AllTraffic/2026/12/01/00/",
    ]
    with pytest.raises(ValueError):
        capture.window_prefixes("p", "e", "v", end, 0)


def test_the_writer_uses_sagemaker_folders_and_file_names(tmp_path: Path) -> None:
    times = iter([WHEN, WHEN, datetime(2026, 12, 1, 0, 0, 1, 250000, tzinfo=UTC)])
    ids = iter(["a", "b", "c"])
    writer = CaptureWriter(tmp_path, endpoint="ep", clock=lambda: next(times), new_id=lambda: next(ids))
    for _ in range(3):
        writer(b'{"instances": []}', JSON, '{"predictions": []}', JSON)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert files == ["ep/AllTraffic/2026/11/30/23/59-58-000-a.jsonl", "ep/AllTraffic/2026/12/01/00/00-01-250-c.jsonl"]
    assert [r.event_id for r in capture.read_location(tmp_path)] == ["a", "b", "c"]


def test_a_capture_that_cannot_be_written_never_fails_the_invocation(tmp_path: Path) -> None:
    (tmp_path / "ep").write_text("a file where the writer needs a folder")
    writer = CaptureWriter(tmp_path, endpoint="ep")
    writer(b"{}", JSON, "{}", JSON)
    assert writer.failures == 1


def _without_outputs(path: Path) -> list[dict]:
    """A fixture file's records without the model's answers (they change with the model; the inputs must not)."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for record in records:
        record.get("captureData", {}).pop("endpointOutput", None)
    return records


def test_committed_fixtures_hold_every_encoding_and_match_the_generator(model: inference.Model, tmp_path: Path) -> None:
    encodings = {record.input.encoding for record in capture.read_location(FIXTURES / "similar") if record.input}
    assert encodings == {"JSON", "CSV", "BASE64"}
    generate(model, tmp_path)
    committed = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*.jsonl"))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.jsonl")) == committed
    for relative in committed:
        if relative.parts[0] != "broken":  # cut in half on purpose: not JSON
            assert _without_outputs(tmp_path / relative) == _without_outputs(FIXTURES / relative), (
                f"{relative}: regenerate with python -m tests.ml.capture_fixtures"
            )
    assert (FIXTURES / "similar" / ENDPOINT).is_dir()
