"""Phase 03: start one run of an environment's training pipeline and follow it until it ends (needs AWS credentials).

    python scripts/pipeline_start.py --env dev [--parameter QualityThreshold=0.8] [--poll-seconds 30] [--no-wait]
                                     [--evidence FILE]

Prints every step's status change; exits 0 when the execution succeeds, 1 when it fails, stops or the gate fails.
--evidence writes what the deploy workflow records (execution ARN, final status, every step's status, the model
package the run registered) as JSON, whatever the outcome. The equivalent AWS CLI calls are in
docs/03-sagemaker-pipeline.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.names import Names

FINAL_STATUSES = {"Succeeded", "Failed", "Stopped"}


def pipeline_name(env: str) -> str:
    return Names(env).pipeline


def parse_parameters(pairs: Iterable[str]) -> list[dict[str, str]]:
    parameters = []
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"expected NAME=VALUE, got {pair!r}")
        parameters.append({"Name": name, "Value": value})
    return parameters


def start(client, name: str, parameters: list[dict[str, str]], started_at: str, token: str) -> str:
    request = {
        "PipelineName": name,
        "PipelineExecutionDisplayName": f"{name}-{started_at}",
        "PipelineExecutionDescription": "started by make pipeline-start",
        "ClientRequestToken": token,  # idempotency: a retried call does not start a second execution
    }
    if parameters:
        request["PipelineParameters"] = parameters
    return client.start_pipeline_execution(**request)["PipelineExecutionArn"]


def list_steps(client, execution_arn: str) -> list[dict]:
    """Every step started so far, in start order (all pages), as SageMaker describes them."""
    steps: list[dict] = []
    request = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
    while True:
        page = client.list_pipeline_execution_steps(**request)
        steps += page["PipelineExecutionSteps"]
        if not page.get("NextToken"):
            return steps
        request["NextToken"] = page["NextToken"]


def step_statuses(client, execution_arn: str) -> dict[str, tuple[str, str]]:
    """{step name: (status, failure reason)} for every step started so far."""
    return {
        step["StepName"]: (step["StepStatus"], step.get("FailureReason", ""))
        for step in list_steps(client, execution_arn)
    }


def evidence(client, execution_arn: str) -> dict:
    """What one execution proved: its final status, each step's status and the model package it registered."""
    execution = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    steps = list_steps(client, execution_arn)
    packages = [s["Metadata"]["RegisterModel"]["Arn"] for s in steps if "RegisterModel" in s.get("Metadata", {})]
    return {
        "pipeline_execution_arn": execution_arn,
        "status": execution["PipelineExecutionStatus"],
        "failure_reason": execution.get("FailureReason", ""),
        "steps": [
            {"name": s["StepName"], "status": s["StepStatus"], "failure_reason": s.get("FailureReason", "")}
            for s in steps
        ],
        "model_package_arn": packages[-1] if packages else None,
    }


def follow(
    client,
    execution_arn: str,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    emit: Callable[[str], None] = print,
) -> str:
    """Poll until the execution ends, printing each step status change once; returns the final status."""
    seen: dict[str, tuple[str, str]] = {}
    while True:
        for step, state in step_statuses(client, execution_arn).items():
            if seen.get(step) != state:
                status, reason = state
                emit(f"  {step:<20} {status}" + (f" - {reason}" if reason else ""))
                seen[step] = state
        execution = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status = execution["PipelineExecutionStatus"]
        if status in FINAL_STATUSES:
            reason = execution.get("FailureReason")
            emit(f"execution {status}" + (f": {reason}" if reason else ""))
            return status
        sleep(poll_seconds)


def main(argv: list[str] | None = None, client=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name, e.g. dev")
    parser.add_argument("--parameter", action="append", default=[], help="pipeline parameter NAME=VALUE")
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    parser.add_argument("--no-wait", action="store_true", help="start and return without following")
    parser.add_argument("--evidence", type=Path, help="write the execution's evidence (JSON) to this file")
    args = parser.parse_args(argv)

    client = client or boto3.client("sagemaker")
    name = pipeline_name(args.env)
    started_at = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    execution_arn = start(client, name, parse_parameters(args.parameter), started_at, uuid.uuid4().hex)
    print(f"started {execution_arn}")
    if args.no_wait:
        return 0
    status = follow(client, execution_arn, args.poll_seconds)
    if args.evidence:
        record = {"environment": args.env, "pipeline": name, **evidence(client, execution_arn)}
        args.evidence.write_text(json.dumps(record, indent=2) + "\n")
        print(f"evidence: {args.evidence} (model package {record['model_package_arn'] or 'none registered'})")
    return 0 if status == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
