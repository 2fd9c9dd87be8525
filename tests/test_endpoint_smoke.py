"""scripts/endpoint_smoke.py (make smoke) under moto: it tests the environment's endpoints that are in service with the
smoke Lambda's request and ml/smoke.py's rules, reports the others as not tested, and writes the evidence."""

from __future__ import annotations

import json

import boto3
import endpoint_smoke
import pytest
import requests
from moto import mock_aws

from config import load_environment
from lambdas.smoke_test import handler
from ml.smoke import KNOWN_PASSENGERS, smoke_request_body

ACCOUNT, REGION = "123456789012", "eu-west-1"
CONFIG = load_environment("dev")


@pytest.fixture
def sagemaker():
    handler._runtime = None  # the Lambda module caches its client; each test gets one inside its own moto
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        yield client
    handler._runtime = None


def _endpoint(sagemaker, name: str) -> None:
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/titanic-dev-endpoint",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": "s3://titanic-dev-artifacts/model.tar.gz"},
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.t2.medium"}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _answers(correct: bool) -> None:
    """What the endpoint answers the smoke request with (moto's documented result queue)."""
    predictions = [{"survived": e if correct else 1 - e, "probability": 0.9} for _, e in KNOWN_PASSENGERS]
    result = {"Body": json.dumps({"predictions": predictions}), "ContentType": "application/json"}
    url = "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results"
    requests.post(url, json={"account_id": ACCOUNT, "region": REGION, "results": [result]}, timeout=5)


def test_an_endpoint_in_service_is_smoke_tested_and_the_evidence_written(sagemaker, tmp_path, capsys):
    _endpoint(sagemaker, "titanic-dev-staging")
    _answers(correct=True)
    sent = []
    runtime = handler._client()  # the client the Lambda's invoke uses; record each request it sends
    runtime.meta.events.register(
        "provide-client-params.sagemaker-runtime.InvokeEndpoint", lambda params, **_: sent.append(params)
    )
    evidence = tmp_path / "smoke.json"
    assert endpoint_smoke.main(["--env", "dev", "--evidence", str(evidence)]) == 0

    assert sent == [
        {"EndpointName": "titanic-dev-staging", "ContentType": "application/json", "Body": smoke_request_body()}
    ]
    result = json.loads(evidence.read_text())
    staging, prod = result["endpoints"]
    assert staging["name"] == "titanic-dev-staging" and staging["tested"] and staging["passed"]
    assert [c["name"] for c in staging["checks"]] == ["status", "schema"] + [
        f"passenger {p['PassengerId']}" for p, _ in KNOWN_PASSENGERS
    ] + ["latency"]
    assert prod == {"name": "titanic-dev-prod", "status": "absent", "tested": False}
    assert result["latency_budget_ms"] == CONFIG.serving.latency_budget_ms
    out = capsys.readouterr().out
    assert "titanic-dev-staging: PASSED" in out and "titanic-dev-prod: absent, not tested" in out


def test_wrong_predictions_fail_the_smoke_test(sagemaker, capsys):
    _endpoint(sagemaker, "titanic-dev-prod")
    _answers(correct=False)
    assert endpoint_smoke.main(["--env", "dev"]) == 1
    out = capsys.readouterr().out
    assert "titanic-dev-prod: FAILED" in out
    assert "FAIL passenger 2: expected survived=1, got 0" in out


def test_no_endpoint_in_service_tests_nothing_and_says_so(sagemaker, capsys):
    assert endpoint_smoke.main(["--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "no endpoint of dev is in service: nothing was smoke-tested" in out
    assert "PASSED" not in out
