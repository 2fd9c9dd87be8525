"""Phase 07: the stage endpoints of an environment whose `[cost] endpoints_sleep` is true sleep while unused.

The sleeper Lambda (lambdas/endpoint_sleeper/) and two EventBridge Scheduler schedules in the environment's time zone:
`<prefix>-sleep-after-hours` at the end of the working hours (`[cost] sleep_schedule`: every awake endpoint sleeps)
and `<prefix>-sleep-idle` every hour (an endpoint without invocations for `sleep_after_idle_hours` sleeps, e.g. one
woken at the weekend). Sleeping deletes the endpoint, never its config, model or release records; waking (`make wake`,
a release or a rollback) creates it again on the recorded config. Built only where sleep is on: prod has none of it.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam

from config import EnvironmentConfig
from constructs import Construct
from constructs.compliance import skip_checkov
from constructs.grants import PolicyGrants
from constructs.python_function import PowertoolsFunction
from constructs.schedules import schedule, scheduler_role
from stacks.foundation import Foundation

SLEEPER_NO_RESERVATION = (
    "Started once an hour and once at the end of the working day by its schedules, each run a few seconds of "
    "describe/delete calls, so it never runs beside itself; a reservation caps nothing and fails the first deploy of "
    "a new account (Lambda concurrency quota 10)."
)
NO_RESOURCE_LEVEL = "cloudwatch:GetMetricStatistics has no resource-level permissions (service authorization reference)"
AUTOSCALING_REASON = (
    "DeleteEndpoint of an autoscaled variant deregisters its scalable target with the caller's permission; scalable "
    "target ARNs carry an id Application Auto Scaling generates, so the action names Resource '*'"
)


def endpoint_sleeper(scope: Construct, config: EnvironmentConfig, foundation: Foundation) -> PowertoolsFunction | None:
    """The sleeper and its schedules, or None where endpoints do not sleep."""
    if not config.cost.endpoints_sleep:
        return None
    names, stack = config.names, Stack.of(scope)
    promotion = stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=names.promotion_state_machine,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    function = PowertoolsFunction(
        scope,
        "EndpointSleeper",
        function_name=names.endpoint_sleeper_function,
        source="lambdas/endpoint_sleeper",
        shared_files=("lambdas/endpoint_sleeper/sleeper.py",),
        description="Deletes the idle or after-hours stage endpoints (config, model, records kept); never creates",
        key=foundation.key,
        log_retention_days=config.log_retention_days,
        destroy_on_delete=config.destroy_on_delete,
        timeout=Duration.minutes(1),
        retry_attempts=0,  # the next hourly run is the retry
        no_reservation_reason=SLEEPER_NO_RESERVATION,
        environment={
            "ENVIRONMENT_NAME": config.name,
            "ENDPOINTS_SLEEP": "true",
            **{f"ENDPOINT_{stage.upper()}": endpoint for stage, endpoint in names.endpoints.items()},
            "PROMOTION_STATE_MACHINE_ARN": promotion,
            "SLEEP_AFTER_IDLE_HOURS": str(config.cost.sleep_after_idle_hours),
        },
    )
    _grant(stack, config, function, promotion)
    _schedules(scope, config, function)
    return function


def _grant(stack: Stack, config: EnvironmentConfig, function: PowertoolsFunction, promotion: str) -> None:
    names = config.names

    def sagemaker(resource: str, name: str) -> str:
        return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

    endpoints = [sagemaker("endpoint", name) for name in names.endpoints.values()]
    policy = iam.Policy(stack, "EndpointSleeperCalls", roles=[function.role])
    # checkov CKV_AWS_111 (write without constraints) is the '*' of DeregisterScalableTarget; cdk-nag's IAM5
    # acknowledgment of it gives the same reason.
    skip_checkov(policy, "CKV_AWS_111", AUTOSCALING_REASON)
    grants = PolicyGrants(policy)
    grants.add(
        iam.PolicyStatement(
            sid="SleepStageEndpoints",
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint"],
            resources=endpoints,
        ),
        iam.PolicyStatement(sid="SeeRunningPromotions", actions=["states:ListExecutions"], resources=[promotion]),
    )
    grants.add(
        iam.PolicyStatement(
            sid="DeleteEndpointDeregistersScaling",
            actions=["application-autoscaling:DeregisterScalableTarget"],
            resources=["*"],
        ),
        iam.PolicyStatement(sid="ReadInvocations", actions=["cloudwatch:GetMetricStatistics"], resources=["*"]),
        because=f"{AUTOSCALING_REASON}; {NO_RESOURCE_LEVEL}",
    )


def _schedules(scope: Construct, config: EnvironmentConfig, function: PowertoolsFunction) -> None:
    names, cost, target = config.names, config.cost, function.function.function_arn
    role = scheduler_role(
        scope,
        "EndpointSleepScheduleRole",
        description=f"{names.prefix}: lets the endpoint sleep schedules invoke the endpoint sleeper",
        action="lambda:InvokeFunction",
        target_arn=target,
    )
    for when, action, expression, what in (
        ("after-hours", "sleep", cost.sleep_schedule, f"at the end of the working hours ({cost.working_hours})"),
        ("idle", "sleep-idle", "rate(1 hour)", f"after {cost.sleep_after_idle_hours} h without invocations"),
    ):
        schedule(
            scope,
            f"EndpointSleep{when.title().replace('-', '')}",
            role=role,
            target_arn=target,
            name=names.endpoint_sleep_schedule(when),
            description=f"Puts the {names.prefix} stage endpoints to sleep {what}; make wake ENV={config.name}",
            expression=expression,
            timezone=cost.timezone,
            payload={"action": action},
            retries=0,
        )
