"""Phase 04: smoke test of one SageMaker endpoint, run by the promotion workflow after each deployment.

It sends ml/smoke.py's request of known passengers and judges the response with ml/smoke.py's check_response, so the
local server and every SageMaker endpoint pass or fail by the same rules. An endpoint that errors is a failed smoke
test (returned, not raised): the workflow then rolls the endpoint back. Only a malformed event raises.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from ml.smoke import check_response, smoke_request_body

logger = Logger()
_runtime = None


def _client():
    global _runtime  # one client per container, created on first use (tests create it inside moto)
    if _runtime is None:
        _runtime = boto3.client("sagemaker-runtime")
    return _runtime


def invoke(endpoint_name: str) -> tuple[int, bytes, float]:
    """POST the smoke request; returns (HTTP status, body, latency in ms). Model and service errors become statuses."""
    started = time.perf_counter()
    try:
        response = _client().invoke_endpoint(
            EndpointName=endpoint_name, ContentType="application/json", Body=smoke_request_body()
        )
        body = response["Body"].read()
        status = 200
    except ClientError as error:
        body = str(error).encode("utf-8")
        status = int(
            error.response.get("OriginalStatusCode")
            or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            or 500
        )
    return status, body, (time.perf_counter() - started) * 1000.0


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    endpoint_name = event["endpoint_name"]
    budget_ms = float(event["latency_budget_ms"])
    status, body, latency_ms = invoke(endpoint_name)
    result = check_response(status, body, latency_ms, budget_ms).to_dict()
    logger.info("smoke test finished", extra={"endpoint": endpoint_name, "latency_ms": latency_ms, **result})
    return {"endpoint_name": endpoint_name, "latency_ms": round(latency_ms, 1), **result}
