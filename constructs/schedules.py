"""EventBridge Scheduler: one schedule that runs one target (a Lambda function or a state machine) with a fixed input.

Every schedule of the project (retraining, drift check, orphan report, endpoint sleep) is built here: the role
Scheduler assumes may only be assumed by Scheduler for this account and may only call the one target action.
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler

from constructs import Construct


def scheduler_role(scope: Construct, construct_id: str, *, description: str, action: str, target_arn: str) -> iam.Role:
    """The role the schedules of one target assume: `action` (lambda:InvokeFunction, states:StartExecution) on it."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
        ),
        description=description,
    )
    role.add_to_policy(iam.PolicyStatement(actions=[action], resources=[target_arn]))
    return role


def schedule(
    scope: Construct,
    construct_id: str,
    *,
    role: iam.IRole,
    target_arn: str,
    name: str,
    description: str,
    expression: str,
    timezone: str,
    payload: dict,
    retries: int,
    state: str | None = None,
) -> scheduler.CfnSchedule:
    """`expression` (cron/rate) in `timezone`, no flexible window; `payload` is the target's input as JSON.
    `state` None leaves it to Scheduler's default (ENABLED)."""
    return scheduler.CfnSchedule(
        scope,
        construct_id,
        name=name,
        description=description,
        schedule_expression=expression,
        schedule_expression_timezone=timezone,
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        state=state,
        target=scheduler.CfnSchedule.TargetProperty(
            arn=target_arn,
            role_arn=role.role_arn,
            input=json.dumps(payload, sort_keys=True),
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=retries),
        ),
    )
