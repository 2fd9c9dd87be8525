"""Phase 07: non-prod stage endpoints sleep while nobody needs them, and wake from their newest release record.

One module for the sleeper Lambda (lambdas/endpoint_sleeper/handler.py, started by the schedules of
stacks/endpoint_sleep.py; it only sleeps) and for `make sleep` / `make wake` (scripts/endpoint_sleep.py):

- `sleep(..., idle_only=False)`: every awake stage endpoint is deleted (the end of the working hours);
- `sleep(..., idle_only=True)`: only the endpoints without a single invocation in the last `idle_hours` (and awake
  at least that long: a just-woken endpoint has had no chance to be called yet);
- `wake(...)`: each stage endpoint that does not exist is created again on the endpoint config of the stage's newest
  release record (same config, so same model and package), tagged as the promotion workflow tags endpoints.

Sleeping deletes the endpoint only: its endpoint config, model and release records stay, and nothing is deleted while
a promotion runs (it is about to create, update or smoke-test these endpoints). With sleep off (prod) nothing
happens. Every call returns the lines it prints: what it did to each endpoint and why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

VARIANT = "AllTraffic"  # config.names VARIANT_NAME: the variant whose Invocations metric says "in use"
ENDPOINT_MISSING = "Could not find endpoint"  # SageMaker's ValidationException message for a missing endpoint
# The Lambda's variable naming each stage's endpoint (stacks/endpoint_sleep.py sets ENDPOINT_<STAGE>), spelled out so
# the access recorder (tests/access/recorder.py) sees which variable a call's endpoint name comes from.
ENDPOINT_VARIABLES = {"staging": "ENDPOINT_STAGING", "prod": "ENDPOINT_PROD"}


@dataclass(frozen=True)
class Settings:
    environment: str
    enabled: bool  # [cost] endpoints_sleep
    endpoints: dict[str, str]  # stage -> endpoint name
    endpoint_tags: dict[str, list[dict[str, str]]]  # stage -> tags in the SageMaker API's shape (wake only)
    releases_table: str  # wake only
    promotion_state_machine_arn: str
    idle_hours: int  # [cost] sleep_after_idle_hours

    @classmethod
    def from_environment(cls, env: Any = None) -> Settings:
        """The Lambda's settings; it only sleeps, so it gets no tags or table."""
        env = os.environ if env is None else env
        return cls(
            environment=env["ENVIRONMENT_NAME"],
            enabled=env["ENDPOINTS_SLEEP"] == "true",
            endpoints={stage: env[variable] for stage, variable in ENDPOINT_VARIABLES.items()},
            endpoint_tags={},
            releases_table="",
            promotion_state_machine_arn=env["PROMOTION_STATE_MACHINE_ARN"],
            idle_hours=int(env["SLEEP_AFTER_IDLE_HOURS"]),
        )


@dataclass(frozen=True)
class Clients:
    sagemaker: Any
    dynamodb: Any
    cloudwatch: Any
    stepfunctions: Any


def _describe(sagemaker: Any, endpoint: str) -> dict | None:
    """The endpoint, or None when it does not exist (asleep, or never released)."""
    try:
        return sagemaker.describe_endpoint(EndpointName=endpoint)
    except sagemaker.exceptions.ClientError as error:
        if ENDPOINT_MISSING in str(error):
            return None
        raise


def _promotion_running(stepfunctions: Any, state_machine_arn: str) -> bool:
    running = stepfunctions.list_executions(stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=1)
    return bool(running["executions"])


def _invocations(cloudwatch: Any, endpoint: str, since: datetime, now: datetime) -> float:
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}],
        StartTime=since,
        EndTime=now,
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in points)


def sleep(clients: Clients, settings: Settings, *, idle_only: bool, now: datetime | None = None) -> list[str]:
    """Delete the awake stage endpoints (only the idle ones with `idle_only`); the lines say what happened."""
    env = settings.environment
    if not settings.enabled:
        return [f"{env}: endpoints do not sleep in this environment ([cost] endpoints_sleep = false); nothing done"]
    if _promotion_running(clients.stepfunctions, settings.promotion_state_machine_arn):
        return [f"{env}: a promotion is running; no endpoint is put to sleep while it rolls out (next run retries)"]
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=settings.idle_hours)
    lines = []
    for stage, endpoint in settings.endpoints.items():
        described = _describe(clients.sagemaker, endpoint)
        if described is None:
            lines.append(f"{endpoint}: already asleep (no endpoint)")
            continue
        status = described["EndpointStatus"]
        if status != "InService":
            lines.append(f"{endpoint}: {status}, left alone (only an endpoint in service is put to sleep)")
            continue
        if idle_only:
            if described["CreationTime"] > since:  # woken (created) less than idle_hours ago
                lines.append(f"{endpoint}: awake for less than {settings.idle_hours} h, kept")
                continue
            calls = _invocations(clients.cloudwatch, endpoint, since, now)
            if calls:
                lines.append(f"{endpoint}: {calls:.0f} invocations in the last {settings.idle_hours} h, kept")
                continue
        clients.sagemaker.delete_endpoint(EndpointName=endpoint)
        why = f"no invocation in {settings.idle_hours} h" if idle_only else "outside working hours"
        lines.append(
            f"{endpoint}: put to sleep ({why}); endpoint config {described['EndpointConfigName']}, its model and "
            f"the {stage} release records kept"
        )
    return lines


def newest_record(dynamodb: Any, table: str, stage: str) -> dict | None:
    """The stage's newest release record (low-level item shape), or None when it never served a release."""
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="#stage = :stage",
        ExpressionAttributeNames={"#stage": "stage"},
        ExpressionAttributeValues={":stage": {"S": stage}},
        ScanIndexForward=False,
        Limit=1,
    )["Items"]
    return items[0] if items else None


def wake(clients: Clients, settings: Settings) -> list[str]:
    """Create each missing stage endpoint again on its newest release record's endpoint config."""
    lines = []
    for stage, endpoint in settings.endpoints.items():
        described = _describe(clients.sagemaker, endpoint)
        if described is not None:
            lines.append(f"{endpoint}: awake ({described['EndpointStatus']}), nothing to do")
            continue
        record = newest_record(clients.dynamodb, settings.releases_table, stage)
        if record is None:
            lines.append(f"{endpoint}: nothing to wake, {stage} has no release record yet (make pipeline-start)")
            continue
        config = record["endpoint_config_name"]["S"]
        clients.sagemaker.create_endpoint(
            EndpointName=endpoint, EndpointConfigName=config, Tags=settings.endpoint_tags[stage]
        )
        version = record["package_version"]["N"]
        lines.append(
            f"{endpoint}: waking on {config} (package version {version}, released {record['released_at']['S']}); "
            "in service in a few minutes"
        )
    return lines
