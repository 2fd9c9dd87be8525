#!/usr/bin/env python3
"""Phases 06/07: the four questions of every release (seed 001), answered for one environment (needs AWS).

    python scripts/release_check.py --env dev

1. pipeline  did the last run of the training pipeline succeed?
2. smoke     does each stage endpoint pass its smoke test (scripts/endpoint_smoke.py, the smoke Lambda's rules)?
             A stage endpoint that is not in service fails, unless the environment's endpoints sleep
             (`[cost] endpoints_sleep`): then asleep is expected and says so.
3. alarms    is every alarm of the environment (titanic-<env>-*, metric and composite) out of ALARM?
4. budget    is this month's actual spend within the budget titanic-<env>-monthly?
One line per question, PASS or FAIL, and exit 1 when any fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import endpoint_smoke

from config import ConfigError, EnvironmentConfig, load_environment


@dataclass(frozen=True)
class Answer:
    question: str
    passed: bool
    detail: str


def _client(service: str, config: EnvironmentConfig):
    return boto3.client(service, region_name=config.region)


def pipeline(config: EnvironmentConfig) -> Answer:
    name = config.names.pipeline
    try:
        runs = _client("sagemaker", config).list_pipeline_executions(
            PipelineName=name, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
        )["PipelineExecutionSummaries"]
    except ClientError as error:
        return Answer("pipeline", False, f"{name}: {error.response['Error']['Message']}")
    if not runs:
        return Answer("pipeline", False, f"{name} has never run (make pipeline-start ENV={config.name})")
    status, arn = runs[0]["PipelineExecutionStatus"], runs[0]["PipelineExecutionArn"]
    return Answer("pipeline", status == "Succeeded", f"{name}: last execution {status} ({arn.rsplit('/', 1)[-1]})")


def smoke(config: EnvironmentConfig) -> Answer:
    result = endpoint_smoke.smoke(config)
    parts, passed = [], True
    for entry in result["endpoints"]:
        if entry["tested"]:
            passed &= entry["passed"]
            parts.append(f"{entry['name']} {'passed' if entry['passed'] else 'FAILED'} ({entry['latency_ms']} ms)")
        elif config.cost.endpoints_sleep:
            parts.append(f"{entry['name']} {entry['status']} (asleep: endpoints sleep here, not tested)")
        else:
            passed = False
            parts.append(f"{entry['name']} {entry['status']}, not in service")
    return Answer("smoke", passed, "; ".join(parts))


def alarms(config: EnvironmentConfig) -> Answer:
    found = {}
    for page in (
        _client("cloudwatch", config)
        .get_paginator("describe_alarms")
        .paginate(AlarmNamePrefix=f"{config.prefix}-", AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    ):
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            found[alarm["AlarmName"]] = alarm["StateValue"]
    firing = sorted(name for name, state in found.items() if state == "ALARM")
    if not found:
        return Answer("alarms", False, f"no alarm named {config.prefix}-*: is titanic-{config.name}-* deployed?")
    if firing:
        return Answer("alarms", False, f"{len(firing)} of {len(found)} in ALARM: {', '.join(firing)}")
    waiting = sum(state == "INSUFFICIENT_DATA" for state in found.values())
    return Answer("alarms", True, f"{len(found)} alarms, none in ALARM ({waiting} without data yet)")


def budget(config: EnvironmentConfig) -> Answer:
    name = config.names.budget
    account = _client("sts", config).get_caller_identity()["Account"]
    try:
        described = _client("budgets", config).describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except ClientError as error:
        return Answer("budget", False, f"{name}: {error.response['Error']['Message']}")
    limit = float(described["BudgetLimit"]["Amount"])
    spend = described.get("CalculatedSpend", {})
    actual = float(spend.get("ActualSpend", {}).get("Amount", 0))
    forecast = float(spend.get("ForecastedSpend", {}).get("Amount", 0))
    detail = f"{name}: ${actual:.2f} of ${limit:.2f} this month (forecast ${forecast:.2f})"
    return Answer("budget", actual <= limit, detail)


QUESTIONS: tuple[Callable[[EnvironmentConfig], Answer], ...] = (pipeline, smoke, alarms, budget)


def check(config: EnvironmentConfig, say: Callable[[str], None] = print) -> int:
    say(f"release check of {config.prefix}")
    answers = [question(config) for question in QUESTIONS]
    for answer in answers:
        say(f"{'PASS' if answer.passed else 'FAIL'}  {answer.question:<8}  {answer.detail}")
    failed = sum(not answer.passed for answer in answers)
    say(f"release-check: {len(answers) - failed} of {len(answers)} passed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    return check(config)


if __name__ == "__main__":
    sys.exit(main())
