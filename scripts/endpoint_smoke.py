#!/usr/bin/env python3
"""Smoke-test an environment's endpoints that are in service, exactly as the smoke-test Lambda does (needs AWS).

    python scripts/endpoint_smoke.py --env dev [--evidence FILE]

For each stage endpoint (titanic-<env>-staging and titanic-<env>-prod, named by stacks/serving.py) that is InService,
it sends the Lambda's request (lambdas/smoke_test/handler.py `invoke`: ml/smoke.py's known passengers) and judges the
answer with ml/smoke.py's `check_response` against the environment's latency budget (config serving.latency_budget_ms).
Endpoints exist only after the promotion workflow released a package; one that does not exist or is not in service is
reported as such, not tested. Exit 0 when every tested endpoint passes (or none was in service, which it says),
1 when any fails. --evidence writes the results as JSON for the deploy workflow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import EnvironmentConfig, load_environment
from lambdas.smoke_test.handler import invoke
from ml.smoke import check_response

STAGES = ("staging", "prod")  # stacks/serving.py STAGES; endpoint names are <prefix>-<stage>
IN_SERVICE = "InService"


def endpoint_status(sagemaker, name: str) -> str:
    try:
        return sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException":  # SageMaker's answer for a missing endpoint
            return "absent"
        raise


def smoke(config: EnvironmentConfig, sagemaker=None) -> dict:
    """{"environment", "latency_budget_ms", "endpoints": [{name, status, tested, passed?, latency_ms?, checks?}]}"""
    boto3.setup_default_session(region_name=config.region)  # the Lambda's runtime client uses the default session
    sagemaker = sagemaker or boto3.client("sagemaker", region_name=config.region)
    budget = config.serving.latency_budget_ms
    endpoints = []
    for stage in STAGES:
        name = f"{config.prefix}-{stage}"
        status = endpoint_status(sagemaker, name)
        entry = {"name": name, "status": status, "tested": status == IN_SERVICE}
        if entry["tested"]:
            http_status, body, latency_ms = invoke(name)
            entry.update(
                latency_ms=round(latency_ms, 1), **check_response(http_status, body, latency_ms, budget).to_dict()
            )
        endpoints.append(entry)
    return {"environment": config.name, "latency_budget_ms": budget, "endpoints": endpoints}


def report(result: dict, say=print) -> int:
    tested = [e for e in result["endpoints"] if e["tested"]]
    for entry in result["endpoints"]:
        if not entry["tested"]:
            say(f"{entry['name']}: {entry['status']}, not tested")
            continue
        say(f"{entry['name']}: {'PASSED' if entry['passed'] else 'FAILED'} ({entry['latency_ms']} ms)")
        for check in entry["checks"]:
            say(f"  {'ok  ' if check['passed'] else 'FAIL'} {check['name']}: {check['detail']}")
    if not tested:
        say(
            f"no endpoint of {result['environment']} is in service: nothing was smoke-tested (endpoints exist once "
            "the promotion workflow has released an approved model package)"
        )
    return 0 if all(e["passed"] for e in tested) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--evidence", type=Path, help="write the results (JSON) to this file")
    args = parser.parse_args(argv)
    result = smoke(load_environment(args.env))
    if args.evidence:
        args.evidence.write_text(json.dumps(result, indent=2) + "\n")
    return report(result)


if __name__ == "__main__":
    sys.exit(main())
