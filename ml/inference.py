"""Phase 02 (served in 04): handlers for the SageMaker scikit-learn container (model_fn, input_fn, predict_fn,
output_fn).

The local server (ml/local/server.py) calls these same four functions, so both honour one contract:
- application/json: {"instances": [passenger, ...]} -> {"predictions": [{"survived": 0|1, "probability": p}, ...]}
- text/csv: one passenger per line in schema.INFERENCE_COLUMN_NAMES order (an identical header line is allowed)
  -> one "survived,probability" line per passenger.
A passenger has every raw column but Survived; PassengerId is optional, Age, Fare, Cabin and Embarked may be null.
Every malformed payload raises PayloadError, whose status (4xx) and message say what is wrong.

transform() is the whole request -> response path, client mistakes included: (status, body, content type), with
{"error": "..."} and the 4xx status for a malformed request. The local server calls it, and so does the serving
entry module in the SageMaker container (stacks/bundle_root/serving_entry.py), whose own stack would turn any
exception into HTTP 500: both answer every request the same way. No Content-Type means JSON, as in the container.

Hot path: parse with ml/payload.py (schema.parse_record per passenger), encode with ml.features, one
predict_proba call: no DataFrame.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # imported as a top-level module by the serving container: make `ml` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import json
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import sklearn

from ml import contracts, features, payload

# The request contract lives in ml/payload.py (standard library only: the drift check reads captured requests with
# it where numpy is absent); these names stay here because the serving container and the local server use them.
MAX_INSTANCES = payload.MAX_INSTANCES
MAX_BODY_BYTES = payload.MAX_BODY_BYTES
PayloadError = payload.PayloadError
DECISION_THRESHOLD = 0.5


@dataclass(frozen=True)
class Reply:
    """What to answer: the HTTP status, the body text and its content type."""

    status: int
    body: str
    content_type: str


@dataclass(frozen=True)
class Model:
    estimator: Any
    encoding: dict[str, Any]
    metadata: dict[str, Any]


def model_fn(model_dir: str) -> Model:
    folder = Path(model_dir)
    metadata = json.loads((folder / contracts.METADATA_FILE).read_text(encoding="utf-8"))
    estimator = joblib.load(folder / contracts.MODEL_FILE)
    return Model(estimator=estimator, encoding=metadata["features"], metadata=metadata)


def input_fn(request_body: bytes | str, request_content_type: str | None) -> list[dict[str, Any]]:
    """Parsed, validated passengers from a request body."""
    return payload.parse_request(request_body, request_content_type, MAX_BODY_BYTES, MAX_INSTANCES)


def predict_fn(input_data: list[dict[str, Any]], model: Model) -> np.ndarray:
    """Survival probability of each passenger, in input order."""
    matrix = features.encode(input_data, model.encoding)
    # schema.parse_record already rejected NaN and infinity: skip scikit-learn's finiteness scan (~40% of the time).
    with sklearn.config_context(assume_finite=True):
        return model.estimator.predict_proba(matrix)[:, 1]


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[str, str]:
    """(body, content type); the container and the local server both send it as the response."""
    media_type = _response_type(accept)
    probabilities = [round(float(p), 6) for p in prediction]
    if media_type == contracts.JSON_CONTENT_TYPE:
        predictions = [{"survived": int(p >= DECISION_THRESHOLD), "probability": p} for p in probabilities]
        return json.dumps({"predictions": predictions}), contracts.JSON_CONTENT_TYPE
    if media_type == contracts.CSV_CONTENT_TYPE:
        lines = [f"{int(p >= DECISION_THRESHOLD)},{p!r}\n" for p in probabilities]
        return "".join(lines), contracts.CSV_CONTENT_TYPE
    raise PayloadError(
        f"unsupported Accept {accept!r}; use {contracts.JSON_CONTENT_TYPE} or {contracts.CSV_CONTENT_TYPE}", 406
    )


def _response_type(accept: str | None) -> str | None:
    """The first media type in an Accept list that we can produce (JSON for none, */* or application/*)."""
    if not accept or not accept.strip():
        return contracts.JSON_CONTENT_TYPE
    for item in accept.split(","):
        media_type = item.split(";", 1)[0].strip().lower()
        if media_type in (contracts.JSON_CONTENT_TYPE, "*/*", "application/*"):
            return contracts.JSON_CONTENT_TYPE
        if media_type in (contracts.CSV_CONTENT_TYPE, "text/*"):
            return contracts.CSV_CONTENT_TYPE
    return None


def error_reply(message: str, status: int) -> Reply:
    return Reply(status, json.dumps({"error": message}), contracts.JSON_CONTENT_TYPE)


def transform(model: Model, body: bytes | str, content_type: str | None, accept: str | None) -> Reply:
    """One request, parsed, predicted and serialized; a malformed one answered with its 4xx status and the reason.

    A missing Content-Type is JSON: the container's request object defaults to it, so the local server does too.
    Anything but a PayloadError is a bug and propagates (500 in both servers).
    """
    try:
        records = input_fn(body, content_type or contracts.JSON_CONTENT_TYPE)
        text, media_type = output_fn(predict_fn(records, model), accept)
    except PayloadError as error:
        return error_reply(str(error), error.status)
    return Reply(200, text, media_type)
