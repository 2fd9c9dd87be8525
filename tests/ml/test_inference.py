"""ml/inference.py: the four SageMaker handlers, good payloads in both formats and every malformed kind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml import inference, schema

from .payloads import CSV, EXPECTED, GOOD, JSON, MALFORMED, body, csv_line


def predict(model: inference.Model, data: bytes, content_type: str = JSON, accept: str = JSON) -> tuple[str, str]:
    return inference.output_fn(inference.predict_fn(inference.input_fn(data, content_type), model), accept)


def test_json_predictions_in_input_order(model: inference.Model) -> None:
    text, content_type = predict(model, body(GOOD + GOOD[::-1]))
    assert content_type == JSON
    predictions = json.loads(text)["predictions"]
    assert [p["survived"] for p in predictions] == EXPECTED + EXPECTED[::-1]
    for prediction in predictions:
        assert set(prediction) == {"survived", "probability"}
        assert 0.0 <= prediction["probability"] <= 1.0
        assert prediction["survived"] == int(prediction["probability"] >= 0.5)


def test_optional_and_nullable_fields(model: inference.Model) -> None:
    sparse = {k: v for k, v in GOOD[0].items() if k != "PassengerId"}
    sparse.update(Age=None, Fare=None, Cabin=None, Embarked=None)
    numbers_as_text = {**GOOD[2], "Pclass": "3", "Age": "22", "Fare": "7.25"}
    predictions = json.loads(predict(model, body([sparse, numbers_as_text]))[0])["predictions"]
    assert [p["survived"] for p in predictions] == [1, 0]


def test_csv_rows_in_documented_order_with_or_without_header(model: inference.Model) -> None:
    rows = "\n".join(csv_line(p) for p in GOOD) + "\n"
    header = ",".join(schema.INFERENCE_COLUMN_NAMES) + "\n"
    for data in (rows, header + rows, rows.replace("\n", "\r\n")):
        text, content_type = predict(model, data.encode(), CSV, CSV)
        assert content_type == CSV
        lines = text.splitlines()
        assert [int(line.split(",")[0]) for line in lines] == EXPECTED
        assert all(0.0 <= float(line.split(",")[1]) <= 1.0 for line in lines)


def test_csv_and_json_give_the_same_probabilities(model: inference.Model) -> None:
    from_json = inference.predict_fn(inference.input_fn(body(GOOD), JSON), model)
    rows = "\n".join(csv_line(p) for p in GOOD).encode()
    from_csv = inference.predict_fn(inference.input_fn(rows, "text/csv; charset=utf-8"), model)
    np.testing.assert_allclose(from_json, from_csv)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json; charset=utf-8", JSON),
        ("application/json, text/plain, */*", JSON),
        ("image/png, text/csv;q=0.9", CSV),
        ("text/*", CSV),
    ],
)
def test_accept_lists_choose_the_first_type_we_produce(model: inference.Model, accept, content_type) -> None:
    assert predict(model, body(GOOD[:1]), JSON, accept)[1] == content_type


@pytest.mark.parametrize(("case", "content_type", "data", "status", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_payloads_raise_payload_error(case, content_type, data, status, words) -> None:
    with pytest.raises(inference.PayloadError) as error:
        inference.input_fn(data, content_type)
    assert error.value.status == status
    assert words in str(error.value)


def test_unsupported_accept_is_406(model: inference.Model) -> None:
    with pytest.raises(inference.PayloadError) as error:
        predict(model, body(GOOD), JSON, "application/xml")
    assert error.value.status == 406


def test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference, "MAX_INSTANCES", 3)
    with pytest.raises(inference.PayloadError, match="4 instances exceed the limit of 3") as error:
        inference.input_fn(body(GOOD), JSON)
    assert error.value.status == 413
    monkeypatch.setattr(inference, "MAX_BODY_BYTES", 10)
    with pytest.raises(inference.PayloadError, match="exceeds the limit") as error:
        inference.input_fn(body(GOOD), JSON)
    assert error.value.status == 413


def test_str_bodies_are_accepted(model: inference.Model) -> None:
    """The serving container may hand input_fn a decoded string."""
    assert len(inference.input_fn(body(GOOD).decode(), JSON)) == len(GOOD)


def test_input_fn_alone_refuses_a_missing_content_type() -> None:
    with pytest.raises(inference.PayloadError) as error:
        inference.input_fn(body(GOOD), None)
    assert error.value.status == 415


@pytest.mark.parametrize(("case", "content_type", "data", "status", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_transform_answers_malformed_payloads_with_their_status(model, case, content_type, data, status, words):
    reply = inference.transform(model, data, content_type, None)
    assert (reply.status, reply.content_type) == (status, JSON)
    assert words in json.loads(reply.body)["error"]


def test_transform_answers_predictions_and_406(model: inference.Model) -> None:
    reply = inference.transform(model, body(GOOD), JSON, CSV)
    assert (reply.status, reply.content_type) == (200, CSV)
    assert [int(line.split(",")[0]) for line in reply.body.splitlines()] == EXPECTED
    assert inference.transform(model, body(GOOD), JSON, "image/png").status == 406


def test_transform_reads_a_missing_content_type_as_json_like_the_container(model: inference.Model) -> None:
    assert inference.transform(model, body(GOOD), None, None) == inference.transform(model, body(GOOD), JSON, None)


def test_transform_lets_bugs_through(model: inference.Model, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only client mistakes become 4xx replies; a failing model is an error for the server to answer with 500."""

    def broken(records, model):
        raise RuntimeError("boom")

    monkeypatch.setattr(inference, "predict_fn", broken)
    with pytest.raises(RuntimeError, match="boom"):
        inference.transform(model, body(GOOD), JSON, None)
