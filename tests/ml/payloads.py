"""Good and malformed request bodies shared by the handler tests and the HTTP server tests."""

from __future__ import annotations

import json

from ml import schema
from ml.smoke import KNOWN_PASSENGERS

JSON, CSV = "application/json", "text/csv"
GOOD = [passenger for passenger, _ in KNOWN_PASSENGERS]
EXPECTED = [survived for _, survived in KNOWN_PASSENGERS]


def body(instances: object) -> bytes:
    return json.dumps({"instances": instances}).encode()


def with_(**changes: object) -> bytes:
    return body([{**GOOD[0], **changes}])


def without(field: str) -> bytes:
    return body([{k: v for k, v in GOOD[0].items() if k != field}])


def csv_line(passenger: dict) -> str:
    return ",".join("" if passenger[c] is None else f'"{passenger[c]}"' for c in schema.INFERENCE_COLUMN_NAMES)


# (case id, content type, body, expected status, words the error message must contain)
MALFORMED = [
    ("bad-json", JSON, b'{"instances": [', 400, "not valid JSON"),
    ("not-utf8", JSON, b"\xff\xfe{}", 400, "not UTF-8"),
    ("json-list", JSON, b"[1, 2]", 400, '{"instances"'),
    ("no-instances", JSON, b'{"data": []}', 400, '{"instances"'),
    ("extra-top-level", JSON, b'{"instances": [], "x": 1}', 400, "unknown top-level field"),
    ("instances-not-list", JSON, b'{"instances": {"Pclass": 1}}', 400, "must be a list"),
    ("empty-list", JSON, body([]), 400, "at least one instance"),
    ("instance-not-object", JSON, body([1]), 400, "instance 0: must be an object"),
    ("wrong-type-age", JSON, with_(Age="old"), 400, "Age expected a number"),
    ("wrong-type-bool", JSON, with_(SibSp=True), 400, "SibSp expected an integer"),
    ("wrong-type-name", JSON, with_(Name=5), 400, "Name expected text"),
    ("nan-fare", JSON, b'{"instances": [{"Fare": NaN}]}', 400, "Fare expected a finite number"),
    ("unknown-sex", JSON, with_(Sex="robot"), 400, "Sex 'robot' is not an allowed value"),
    ("unknown-class", JSON, with_(Pclass=4), 400, "Pclass 4 is not an allowed value"),
    ("unknown-port", JSON, with_(Embarked="X"), 400, "Embarked 'X' is not an allowed value"),
    ("negative-age", JSON, with_(Age=-1), 400, "Age -1.0 is below the minimum 0"),
    ("missing-sex", JSON, without("Sex"), 400, "Sex is missing"),
    ("null-pclass", JSON, with_(Pclass=None), 400, "Pclass is required but empty"),
    ("label-sent", JSON, with_(Survived=1), 400, "unknown field(s) Survived"),
    ("typo-field", JSON, with_(age=3), 400, "unknown field(s) age"),
    ("csv-wrong-width", CSV, b"1,3,x\n", 400, "has 3 fields, expected 11"),
    ("csv-bad-value", CSV, csv_line({**GOOD[0], "Sex": "robot"}).encode(), 400, "Sex 'robot'"),
    ("csv-empty", CSV, b"\n\n", 400, "at least one instance"),
    ("csv-unterminated-quote", CSV, b'1,"unterminated', 400, "has 2 fields"),
    ("content-type", "application/xml", b"<x/>", 415, "unsupported content type"),
]
