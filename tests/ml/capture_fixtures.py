"""The committed capture fixtures (tests/ml/fixtures/capture/): real-format SageMaker data-capture files of
data/titanic.csv passengers, written by ml/local/capture.py's CaptureWriter with the answers of the real inference
handlers, on a fixed clock and fixed event ids.

- similar/: the test split of seed 42 (same population as training) over two hours; the first hour captured with
  CsvContentTypes listed (CSV requests as CSV), the second as the promotion workflow captures (CSV as BASE64).
- shifted/: first-class passengers only, fares tripled, four ages in five missing.
- violations/: 95 valid passengers and 10 requests the endpoint rejects (bad JSON, a robot, no name, ...).
- broken/: three lines of similar/, the second cut in half.

Regenerate after a change of the capture format or of the model (the answers are the model's):
    python -m tests.ml.capture_fixtures
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ml import capture, contracts, dataset, inference, preprocess, schema
from ml.local.capture import CaptureWriter, request_bodies

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "capture"
DATA = HERE.parents[1] / "data" / "titanic.csv"
ENDPOINT = "titanic-dev-prod"
START = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)
WITH_CSV_TYPES = {"json": [contracts.JSON_CONTENT_TYPE], "csv": [contracts.CSV_CONTENT_TYPE]}

# The rejected requests of violations/: (Content-Type, body).
REJECTED: list[tuple[str, bytes]] = [
    (contracts.JSON_CONTENT_TYPE, b'{"instances": ['),
    (contracts.CSV_CONTENT_TYPE, b"1,2,3\n"),
]


def passengers() -> list[dict[str, Any]]:
    records, _ = dataset.read_records(DATA)
    return [{name: record[name] for name in schema.INFERENCE_COLUMN_NAMES} for record in records]


def similar() -> list[dict[str, Any]]:
    records, _ = dataset.read_records(DATA)
    test = preprocess.stratified_split(records, 0.70, 0.15, 42)["test"]
    return [{name: record[name] for name in schema.INFERENCE_COLUMN_NAMES} for record in test]


def shifted() -> list[dict[str, Any]]:
    first_class = [p for p in passengers() if p["Pclass"] == 1][:120]
    return [
        {**p, "Fare": round(p["Fare"] * 3, 4), "Age": p["Age"] if index % 5 == 0 else None}
        for index, p in enumerate(first_class)
    ]


def invalid_passengers() -> list[dict[str, Any]]:
    base = similar()[0]
    nameless = {k: v for k, v in base.items() if k != "Name"}
    return [
        {**base, "Sex": "robot"},
        {**base, "Sex": "robot", "Age": -5},
        {**base, "Sex": "robot"},
        nameless,
        {**nameless, "Ticket": 12345},
        {**base, "Nickname": "Flo"},
        {**base, "Age": 250},
        {**base, "Pclass": 4},
    ]


class Answering:
    """Answers requests with the real handlers and writes them through a CaptureWriter on a fixed clock."""

    def __init__(self, model: inference.Model, root: Path, name: str) -> None:
        self.model, self.root, self.name, self.count = model, root, name, 0
        self.writers: dict[str, CaptureWriter] = {}

    def now(self) -> datetime:
        return START + timedelta(seconds=61 * self.count)

    def writer(self) -> CaptureWriter:
        hour = self.now().hour
        content_types = WITH_CSV_TYPES if hour == START.hour else None
        key = f"{hour}"
        if key not in self.writers:
            self.writers[key] = CaptureWriter(
                self.root, endpoint=ENDPOINT, clock=self.now, new_id=self.event_id, content_types=content_types
            )
        return self.writers[key]

    def event_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"titanic-sagemaker/{self.name}/{self.count}"))

    def send(self, body: bytes, content_type: str, accept: str) -> None:
        try:
            text, response_type = inference.output_fn(
                inference.predict_fn(inference.input_fn(body, content_type), self.model), accept
            )
        except inference.PayloadError as error:
            text, response_type = json.dumps({"error": str(error)}), contracts.JSON_CONTENT_TYPE
        self.writer()(body, content_type, text, response_type)
        self.count += 1


def write_population(model: inference.Model, root: Path, name: str, people: Sequence[dict[str, Any]]) -> None:
    answering = Answering(model, root / name, name)
    for body, content_type, accept in request_bodies(people):
        answering.send(body, content_type, accept)


def generate(model: inference.Model, root: Path) -> None:
    write_population(model, root, "similar", similar())
    write_population(model, root, "shifted", shifted())
    violations = Answering(model, root / "violations", "violations")
    for passenger in similar()[:95]:
        violations.send(json.dumps({"instances": [passenger]}).encode(), contracts.JSON_CONTENT_TYPE, "")
    for passenger in invalid_passengers():
        violations.send(json.dumps({"instances": [passenger]}).encode(), contracts.JSON_CONTENT_TYPE, "")
    for content_type, body in REJECTED:
        violations.send(body, content_type, "")
    first = sorted((root / "similar").rglob(f"*{capture.FILE_SUFFIX}"))[0]
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)[:3]
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"
    broken = root / "broken" / ENDPOINT / capture.DEFAULT_VARIANT / "2026/11/30/10" / "00-00-000-broken.jsonl"
    broken.parent.mkdir(parents=True)
    broken.write_text("".join(lines), encoding="utf-8")


def main() -> int:
    from tests.ml.conftest import run_pipeline  # trains the model the tests train (same data, same seed)

    with tempfile.TemporaryDirectory() as work:
        paths = run_pipeline(Path(work))
        model = inference.model_fn(str(paths["model"]))
        shutil.rmtree(FIXTURES, ignore_errors=True)
        generate(model, FIXTURES)
    print(f"capture fixtures written under {FIXTURES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
