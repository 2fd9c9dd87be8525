"""The recorder writes each Lambda call in a form that does not depend on the test that made it, and a call the
committed file does not hold is reported."""

from __future__ import annotations

import contextlib

import boto3
from moto import mock_aws

from tests.access import recorder
from tests.access.recorder import LAMBDAS, Recorder

SUBSTITUTIONS = [
    ("titanic-test-data", "${env:DATA_BUCKET}"),
    ("raw/batches/x.csv", "${event:detail.object.key}"),
    ("curated/", "${env:CURATED_PREFIX}"),
    ("raw/", "${env:RAW_PREFIX}"),
]


def _normalize(value):
    return recorder._normalize(value, SUBSTITUTIONS, sources='"REPLACE" text/csv')


def test_names_from_the_environment_and_the_event_become_placeholders():
    assert _normalize({"Bucket": "titanic-test-data"}) == {"Bucket": "${env:DATA_BUCKET}"}
    assert _normalize({"Key": "raw/batches/x.csv"}) == {"Key": ["${event:detail.object.key}", "${env:RAW_PREFIX}*"]}
    assert _normalize({"Uri": "s3://titanic-test-data/curated/seed.csv"}) == {
        "Uri": "s3://${env:DATA_BUCKET}/${env:CURATED_PREFIX}*"
    }


def test_test_data_is_not_recorded_but_constants_of_the_code_are():
    normalized = _normalize({"VersionId": "3HL4kqtJlcpXroDTDmJ", "Directive": "REPLACE", "Message": "x\ny"})
    assert normalized == {"VersionId": "<value>", "Directive": "REPLACE", "Message": "<value>"}


def test_numbers_are_constants_only_as_whole_literals_and_a_batch_is_recorded_as_its_shapes():
    sources = "MaxKeys=1\nlatency * 1000.0"
    normalized = recorder._normalize(
        {"MaxKeys": 1, "Value": 0.0, "Items": [{"Value": 0.5}, {"Value": 0.25}, {"Value": 1000.0}]}, [], sources
    )
    assert normalized == {"MaxKeys": 1, "Value": "<value>", "Items": [{"Value": "<value>"}, {"Value": 1000.0}]}


def test_only_calls_made_by_handler_code_are_recorded_and_new_ones_are_unknown(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    code = compile(
        "def handler(event, context):\n    return client.delete_endpoint(EndpointName=event['endpoint_name'])\n",
        str(LAMBDAS / "smoke_test" / "handler.py"),  # as if the smoke-test handler made the call
        "exec",
    )
    with mock_aws(), Recorder().installed() as calls:
        client = boto3.client("sagemaker", region_name="eu-west-1")
        namespace = {"client": client}
        exec(code, namespace)  # noqa: S102 (a handler stand-in compiled above)
        client.list_endpoints()  # the test's own call: not a handler's
        with contextlib.suppress(client.exceptions.ClientError):  # moto has no such endpoint; the call was made
            namespace["handler"]({"endpoint_name": "titanic-test-staging"}, None)
    (call,) = calls.calls
    assert '"operation": "DeleteEndpoint"' in call and '"EndpointName": "${event:endpoint_name}"' in call
    assert call not in recorder.known()
