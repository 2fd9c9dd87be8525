"""Phase 07: the endpoint sleeper of one non-prod environment (the logic is lambdas/endpoint_sleeper/sleeper.py, the
same module `make sleep` and `make wake` run through scripts/endpoint_sleep.py).

Started by the schedules of stacks/endpoint_sleep.py with {"action": "sleep"} at the end of the working hours and
{"action": "sleep-idle"} every hour; its settings come from the environment variables the stack sets. It only puts
endpoints to sleep: waking is a person's decision (`make wake`, with their credentials) or a release's, so the
function holds no CreateEndpoint permission.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.endpoint_sleeper.sleeper import Clients, Settings, sleep

logger = Logger()
ACTIONS = ("sleep", "sleep-idle")


def clients() -> Clients:
    return Clients(
        sagemaker=boto3.client("sagemaker"),
        dynamodb=None,  # only waking reads the release records
        cloudwatch=boto3.client("cloudwatch"),
        stepfunctions=boto3.client("stepfunctions"),
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    settings = Settings.from_environment()
    lines = sleep(clients(), settings, idle_only=action == "sleep-idle")
    logger.info("endpoint sleeper", extra={"action": action, "lines": lines})
    return {"environment": settings.environment, "action": action, "lines": lines}
