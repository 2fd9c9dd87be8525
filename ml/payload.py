"""The request and response bodies of POST /invocations: the one reader of the serving contract.

Requests (what inference.input_fn accepts, see ml/inference.py for the contract):
- application/json: {"instances": [passenger, ...]}
- text/csv: one passenger per line in schema.INFERENCE_COLUMN_NAMES order (an identical header line is allowed).
Responses (what inference.output_fn writes): {"predictions": [{"survived": 0|1, "probability": p}, ...]} or one
"survived,probability" line per passenger.

Standard library only, on purpose: the serving handlers use it on the hot path, and the drift check (ml/drift.py)
reads captured traffic with it inside a Lambda that has neither numpy nor scikit-learn.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from typing import Any

from ml import contracts, schema

MAX_INSTANCES = 10_000
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker real-time endpoints accept at most 6 MB per request
_COLUMN_NAMES = frozenset(schema.INFERENCE_COLUMN_NAMES)


class PayloadError(ValueError):
    """The request is malformed; `status` is the 4xx HTTP status that says so."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def media_type(content_type: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def request_instances(
    request_body: bytes | str, request_content_type: str | None, max_body_bytes: int = MAX_BODY_BYTES
) -> list[dict[str, Any]]:
    """The raw passenger objects of a request body (not yet typed); PayloadError when the envelope is wrong."""
    kind = media_type(request_content_type)
    if len(request_body) > max_body_bytes:
        raise PayloadError(f"body of {len(request_body)} bytes exceeds the limit of {max_body_bytes}", 413)
    if isinstance(request_body, bytes):
        try:
            request_body = request_body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PayloadError(f"body is not UTF-8 (undecodable byte at offset {error.start})") from None
    if kind == contracts.JSON_CONTENT_TYPE:
        return _json_instances(request_body)
    if kind == contracts.CSV_CONTENT_TYPE:
        return _csv_instances(request_body)
    raise PayloadError(
        f"unsupported content type {request_content_type!r}; "
        f"use {contracts.JSON_CONTENT_TYPE} or {contracts.CSV_CONTENT_TYPE}",
        415,
    )


def _json_instances(text: str) -> list[Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise PayloadError(f"body is not valid JSON: {error}") from None
    if not isinstance(document, dict) or "instances" not in document:
        raise PayloadError('body must be a JSON object {"instances": [passenger, ...]}')
    unknown = sorted(set(document) - {"instances"})
    if unknown:
        raise PayloadError(f"unknown top-level field(s) {', '.join(unknown)}; only 'instances' is allowed")
    instances = document["instances"]
    if not isinstance(instances, list):
        raise PayloadError("'instances' must be a list of passenger objects")
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise PayloadError(f"instance {index}: must be an object, got {type(instance).__name__}")
    return instances


def _csv_instances(text: str) -> list[dict[str, Any]]:
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as error:
        raise PayloadError(f"malformed CSV: {error}") from None
    if rows and [cell.strip() for cell in rows[0]] == list(schema.INFERENCE_COLUMN_NAMES):
        rows = rows[1:]
    width = len(schema.INFERENCE_COLUMN_NAMES)
    for index, row in enumerate(rows):
        if len(row) != width:
            raise PayloadError(
                f"line {index}: has {len(row)} fields, expected {width} ({','.join(schema.INFERENCE_COLUMN_NAMES)})"
            )
    return [dict(zip(schema.INFERENCE_COLUMN_NAMES, row)) for row in rows]


def check_instance(instance: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], list[tuple[str, str]]]:
    """One passenger object typed by the schema: (values, unknown field names, [(column, reason), ...])."""
    unknown = sorted(map(str, instance.keys() - _COLUMN_NAMES))
    values, errors = schema.parse_record(instance)
    return values, unknown, errors


def parse_request(
    request_body: bytes | str,
    request_content_type: str | None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_instances: int = MAX_INSTANCES,
) -> list[dict[str, Any]]:
    """Parsed, validated passengers of a request body; the first problem raises PayloadError naming the instance."""
    instances = request_instances(request_body, request_content_type, max_body_bytes)
    if not instances:
        raise PayloadError("no passengers: send at least one instance")
    if len(instances) > max_instances:
        raise PayloadError(f"{len(instances)} instances exceed the limit of {max_instances} per request", 413)
    records = []
    for index, instance in enumerate(instances):
        values, unknown, errors = check_instance(instance)
        if unknown:
            raise PayloadError(
                f"instance {index}: unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(schema.INFERENCE_COLUMN_NAMES)}"
            )
        if errors:
            reasons = "; ".join(f"{column} {reason}" for column, reason in errors)
            raise PayloadError(f"instance {index}: {reasons}")
        records.append(values)
    return records


def parse_response(response_body: bytes | str, response_content_type: str | None) -> list[tuple[int, float]]:
    """(survived, probability) per passenger of a response body; ValueError saying what is wrong."""
    text = response_body.decode("utf-8") if isinstance(response_body, bytes) else response_body
    kind = media_type(response_content_type)
    if kind == contracts.JSON_CONTENT_TYPE:
        document = json.loads(text)
        items = document.get("predictions") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise ValueError('expected {"predictions": [...]}')
        pairs = [(item.get("survived"), item.get("probability")) for item in items if isinstance(item, dict)]
        if len(pairs) != len(items):
            raise ValueError("every prediction must be an object")
    elif kind == contracts.CSV_CONTENT_TYPE:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
        if any(len(row) != 2 for row in rows):
            raise ValueError("expected 'survived,probability' lines")
        pairs = [(_number(row[0]), _number(row[1])) for row in rows]
    else:
        raise ValueError(f"unsupported response content type {response_content_type!r}")
    return [_prediction(survived, probability) for survived, probability in pairs]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _prediction(survived: Any, probability: Any) -> tuple[int, float]:
    if isinstance(survived, bool) or survived not in (0, 1):
        raise ValueError(f"'survived' must be 0 or 1, got {survived!r}")
    if isinstance(probability, bool) or not isinstance(probability, (int, float)):
        raise ValueError(f"'probability' must be a number, got {probability!r}")
    if not (0.0 <= probability <= 1.0) or math.isnan(probability):
        raise ValueError(f"'probability' must be in [0, 1], got {probability!r}")
    return int(survived), float(probability)
