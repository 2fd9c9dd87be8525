"""The smoke-test Lambda handler: judges an endpoint with ml/smoke.py and never raises for a bad endpoint."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from constructs.python_function import asset_files
from ml.smoke import KNOWN_PASSENGERS, smoke_request_body

HANDLER = Path(__file__).resolve().parents[2] / "lambdas" / "smoke_test" / "handler.py"
CONTEXT = SimpleNamespace(
    function_name="titanic-dev-smoke-test", memory_limit_in_mb=256, invoked_function_arn="arn", aws_request_id="r"
)


@pytest.fixture
def smoke(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    spec = importlib.util.spec_from_file_location("smoke_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    client = mock.Mock()
    monkeypatch.setattr(module, "_client", lambda: client)
    return module, client


def _body(correct: bool) -> bytes:
    predictions = [{"survived": e if correct else 1 - e, "probability": 0.8} for _, e in KNOWN_PASSENGERS]
    return json.dumps({"predictions": predictions}).encode()


def test_a_correct_endpoint_passes_and_gets_the_shared_request(smoke):
    module, client = smoke
    client.invoke_endpoint.return_value = {"Body": mock.Mock(read=lambda: _body(True))}
    result = module.handler({"endpoint_name": "titanic-dev-staging", "latency_budget_ms": 60000}, CONTEXT)

    assert result["passed"] is True
    client.invoke_endpoint.assert_called_once_with(
        EndpointName="titanic-dev-staging", ContentType="application/json", Body=smoke_request_body()
    )


def test_wrong_predictions_fail(smoke):
    module, client = smoke
    client.invoke_endpoint.return_value = {"Body": mock.Mock(read=lambda: _body(False))}
    result = module.handler({"endpoint_name": "e", "latency_budget_ms": 60000}, CONTEXT)
    assert result["passed"] is False
    assert [c["name"] for c in result["checks"] if not c["passed"]][:1] == ["passenger 2"]


def test_a_model_error_is_a_failed_smoke_test_not_an_exception(smoke):
    module, client = smoke
    client.invoke_endpoint.side_effect = ClientError(
        {"Error": {"Code": "ModelError", "Message": "boom"}, "OriginalStatusCode": 500}, "InvokeEndpoint"
    )
    result = module.handler({"endpoint_name": "e", "latency_budget_ms": 60000}, CONTEXT)
    assert result["passed"] is False
    assert result["checks"] == [{"name": "status", "passed": False, "detail": "HTTP 500"}]


def test_a_slow_endpoint_fails_the_latency_budget(smoke):
    module, client = smoke
    client.invoke_endpoint.return_value = {"Body": mock.Mock(read=lambda: _body(True))}
    result = module.handler({"endpoint_name": "e", "latency_budget_ms": 0}, CONTEXT)
    assert result["passed"] is False
    assert result["checks"][-1]["name"] == "latency"


def test_the_asset_carries_the_shared_smoke_contract_and_no_requirements_file():
    files = asset_files("lambdas/smoke_test", ("ml/__init__.py", "ml/smoke.py"))
    assert sorted(files) == ["handler.py", "ml/__init__.py", "ml/smoke.py", "requirements.txt"]
    assert files["ml/smoke.py"] == HANDLER.parents[2] / "ml" / "smoke.py"
