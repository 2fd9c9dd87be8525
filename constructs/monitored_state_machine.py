"""Phase 06: a Step Functions state machine with the project's safe defaults.

Everything logged (ALL, with execution data) to its own log group with retention, encrypted with `key` (the
foundation key policy lets CloudWatch Logs use it for the environment's `*titanic-<env>-*` log groups), X-Ray
tracing, an overall timeout, and a safety-net alarm to the alerts topic on any execution that fails, times out or is
aborted, even one no state could catch (a runtime error, the execution timeout, a manual stop). Handled failures
also send their own, more detailed alert from inside the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from config.resource_names import executions_failed_alarm, state_machine_log_group, with_runbook
from constructs import Construct
from constructs.compliance import acknowledge_wildcard
from constructs.retention import retained_log_group

# What every state machine's role needs with Resource "*" (CDK adds these statements for logging and tracing).
TRACING_AND_LOGGING_REASON = (
    "X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery "
    "(logs:CreateLogDelivery and related) have no resource-level permissions (AWS service authorization reference)"
)


class MonitoredStateMachine:
    """Log group `<id>Logs`, state machine `<id>`, alarm `<id>ExecutionsFailed`, all in `scope`.

    Deliberately not a Construct subclass: its resources sit directly in the stack, with the construct paths (so
    the logical ids) they had when the stack created them itself. A construct level would rename, and so make
    CloudFormation replace, deployed state machines and their log groups.

    `wildcard_reasons`: {resource: reason} for the wildcard resources the definition's tasks are granted
    (IAM5); a reason for "*" is appended to the tracing-and-logging one.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        definition: sfn.IChainable,
        timeout: Duration,
        alerts_topic: sns.ITopic,
        key: kms.IKey,
        log_retention_days: int,
        destroy_on_delete: bool,
        wildcard_reasons: Mapping[str, str] | None = None,
    ) -> None:
        log_group = retained_log_group(
            scope,
            f"{construct_id}Logs",
            name=state_machine_log_group(state_machine_name),
            retention_days=log_retention_days,
            destroy_on_delete=destroy_on_delete,
            key=key,
        )
        self.state_machine = sfn.StateMachine(
            scope,
            construct_id,
            state_machine_name=state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        reasons = dict(wildcard_reasons or {})
        everything = "; ".join(filter(None, (TRACING_AND_LOGGING_REASON, reasons.pop("*", None))))
        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        for resource, reason in {"*": everything, **reasons}.items():
            acknowledge_wildcard(policy, resource, reason)
        self._alarm(scope, f"{construct_id}ExecutionsFailed", state_machine_name, alerts_topic)

    def _alarm(self, scope: Construct, construct_id: str, name: str, alerts_topic: sns.ITopic) -> None:
        machine = self.state_machine
        failed = cloudwatch.MathExpression(
            expression="failed + timed_out + aborted",
            using_metrics={
                "failed": machine.metric_failed(),
                "timed_out": machine.metric_timed_out(),
                "aborted": machine.metric_aborted(),
            },
            label="executions failed, timed out or aborted",
            period=Duration.minutes(5),
        )
        alarm = cloudwatch.Alarm(
            scope,
            construct_id,
            alarm_name=executions_failed_alarm(name),
            alarm_description=with_runbook(
                f"An execution of {name} failed, timed out or was aborted", "workflow-failed"
            ),
            metric=failed,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(alerts_topic))
