"""Phase 07: the weekly orphan report of one environment, published to its alerts topic when it finds anything.

The logic is lambdas/orphan_report/orphans.py, the same module `make orphans` runs (scripts/orphans.py); this handler
only builds the clients, reads its settings from the environment variables the observability stack sets, and
publishes. Started by an EventBridge Scheduler schedule (no event fields are read). It never deletes anything.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.orphan_report.orphans import Clients, Report, Settings, find

logger = Logger()
MESSAGE_LIMIT = 250_000  # SNS accepts 256 KB; a report that long is cut, saying so
CLEANUP_HINT = (
    "Nothing was deleted: deleting stays a human decision. Review with `make orphans ENV={env}`, then "
    "`make cleanup ENV={env} TARGET=endpoints|configs|models` (CONFIRM=yes deletes). {runbook}"
)


def clients() -> Clients:
    return Clients(
        sagemaker=boto3.client("sagemaker"),
        dynamodb=boto3.client("dynamodb"),
        cloudwatch=boto3.client("cloudwatch"),
        tagging=boto3.client("resourcegroupstaggingapi"),
        logs=boto3.client("logs"),
    )


def message(report: Report, runbook: str) -> str:
    text = "\n".join([*report.lines(), "", CLEANUP_HINT.format(env=report.environment, runbook=runbook)])
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "\n[cut: run make orphans for all of it]"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_environment()
    report = find(clients(), settings)
    findings = [finding.__dict__ for finding in report.findings]
    logger.info("orphan report", extra={"findings": findings, "notes": report.notes})
    published = None
    if report.findings:
        published = boto3.client("sns").publish(
            TopicArn=os.environ["ALERTS_TOPIC_ARN"],
            Subject=report.subject,
            Message=message(report, os.environ["RUNBOOK"]),
        )["MessageId"]
    return {"environment": report.environment, "findings": findings, "notes": report.notes, "message_id": published}
