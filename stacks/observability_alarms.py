"""Phase 06: the alarms of the observability stack, each named from config/names.py, described with its runbook
(`Runbook: docs/runbooks/<name>.md`, config/names.py `with_runbook`) and sending to the alerts topic.

Why metric alarms, not EventBridge rules on SageMaker's status-change events, for failed pipeline runs and jobs:
the jobs a pipeline step starts get generated names (`pipelines-<execution id>-...`), so a rule cannot tell this
environment's jobs from another's, while the pipeline metrics carry `PipelineName` (and `StepName`); an alarm also
shows in the dashboard's alarm status, can be part of the composite release-health alarm, and publishes the way every
other alarm does (cloudwatch.amazonaws.com), so the topic needs one publisher statement, not two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns

from config.names import METRICS_NAMESPACE, STAGES, VARIANT_NAME, Names
from config.resource_names import (
    executions_failed_alarm,
    lambda_alarm,
    queue_not_empty_alarm,
    state_machine_log_group,
    with_runbook,
)
from config.sections import ServingSettings
from constructs import Construct
from constructs.inventory import MonitoredFunction
from stacks.training_pipeline_contract import EVALUATE_STEP, PREPROCESS_STEP, TRAIN_STEP

PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"  # sic: lower-case "m" in "Sagemaker"
WORKFLOW_NAMESPACE = f"{METRICS_NAMESPACE}/workflows"  # metric filters on the promotion workflow's execution log
JOB_STEPS = (PREPROCESS_STEP, TRAIN_STEP, EVALUATE_STEP)  # the pipeline steps that run a SageMaker job
FIVE_MINUTES = Duration.minutes(5)
# Failed promotions by kind: the error names its Fail state ends with (constructs/promotion/) -> alarm and runbook.
WORKFLOW_ERRORS = {
    "approval-timed-out": ("ApprovalTimedOut",),
    "auto-rollback": ("StagingSmokeTestFailed", "ProdSmokeTestFailed", "ProdDeploymentFailed"),
}
WORKFLOW_ERROR_TEXT = {
    "approval-timed-out": "A release waited longer than the approval window and stopped; prod is unchanged",
    "auto-rollback": "A rollout did not complete: a guard alarm or a failed smoke test returned the endpoint to its "
    "previous model",
}


class Alerting:
    """Creates alarms in one scope; every one alarms the alerts topic and is remembered by its name (`named`, in
    creation order), so nothing reads a name back from the construct tree."""

    def __init__(self, scope: Construct, topic: sns.ITopic) -> None:
        self._scope = scope
        self._action = cloudwatch_actions.SnsAction(topic)
        self.named: dict[str, cloudwatch.Alarm] = {}

    @property
    def alarms(self) -> list[cloudwatch.Alarm]:
        return list(self.named.values())

    def alarm(
        self, construct_id: str, *, name: str, description: str, runbook: str, metric: cloudwatch.IMetric, threshold
    ) -> cloudwatch.Alarm:
        """At or above `threshold` in one period; missing data is not breaching (nothing ran, nothing failed)."""
        if name in self.named:
            raise ValueError(f"two alarms named {name}: CloudWatch alarm names are unique per account and region")
        alarm = cloudwatch.Alarm(
            self._scope,
            construct_id,
            alarm_name=name,
            alarm_description=with_runbook(description, runbook),
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.named[name] = alarm
        return alarm


def pipeline_alarms(alerting: Alerting, names: Names) -> None:
    """A failed run of the training pipeline, and a failed job of each step that runs one."""
    pipeline = names.pipeline
    alerting.alarm(
        "PipelineExecutionFailed",
        name=names.pipeline_failed_alarm,
        description=f"An execution of the SageMaker pipeline {pipeline} failed",
        runbook="pipeline-failed",
        metric=_metric(PIPELINE_NAMESPACE, "ExecutionFailed", {"PipelineName": pipeline}),
        threshold=1,
    )
    for step in JOB_STEPS:
        alerting.alarm(
            f"{step}Failed",
            name=names.pipeline_step_failed_alarm(step),
            description=f"The {step} job of the SageMaker pipeline {pipeline} failed",
            runbook="pipeline-failed",
            metric=_metric(PIPELINE_NAMESPACE, "StepFailed", {"PipelineName": pipeline, "StepName": step}),
            threshold=1,
        )


def staging_endpoint_alarms(alerting: Alerting, names: Names, settings: ServingSettings) -> None:
    """The prod endpoint's 5xx and latency guards (stacks/serving.py), with the same thresholds, on staging."""
    endpoint = names.endpoint("staging")
    dimensions = {"EndpointName": endpoint, "VariantName": VARIANT_NAME}
    alerting.alarm(
        "Staging5xx",
        name=names.endpoint_alarm("staging", "5xx"),
        description=f"{endpoint}: HTTP 5xx responses at or above {settings.max_5xx_per_minute} per minute",
        runbook="endpoint-errors",
        metric=_metric("AWS/SageMaker", "Invocation5XXErrors", dimensions, period=Duration.minutes(1)),
        threshold=settings.max_5xx_per_minute,
    )
    alerting.alarm(
        "StagingModelLatency",
        name=names.endpoint_alarm("staging", "model-latency"),
        description=f"{endpoint}: average model latency at or above {settings.max_model_latency_ms} ms in a minute",
        runbook="endpoint-errors",
        # ModelLatency is reported in microseconds.
        metric=_metric("AWS/SageMaker", "ModelLatency", dimensions, "Average", Duration.minutes(1)),
        threshold=settings.max_model_latency_ms * 1000,
    )


def function_alarms(alerting: Alerting, names: Names, functions: Sequence[MonitoredFunction]) -> None:
    """Errors and throttles of every Lambda function, and any message in its dead-letter queue."""
    for function in functions:
        construct_id = _construct_id(function.name.removeprefix(f"{names.prefix}-"))
        for kind, metric_name in (("errors", "Errors"), ("throttles", "Throttles")):
            alerting.alarm(
                f"{construct_id}{metric_name}",
                name=lambda_alarm(function.name, kind),
                description=f"Lambda function {function.name}: {kind} in the last 5 minutes",
                runbook="lambda-errors",
                metric=_metric("AWS/Lambda", metric_name, {"FunctionName": function.name}),
                threshold=1,
            )
        alerting.alarm(
            f"{construct_id}DeadLettersNotEmpty",
            name=queue_not_empty_alarm(function.dead_letter_queue),
            description=f"{function.dead_letter_queue} holds events {function.name} failed to process after its "
            "retries (they expire after 14 days)",
            runbook="dlq-not-empty",
            metric=_metric(
                "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": function.dead_letter_queue}, "Maximum"
            ),
            threshold=1,
        )


def workflow_error_alarms(scope: Construct, alerting: Alerting, names: Names) -> dict[str, cloudwatch.Metric]:
    """Metric filters on the promotion workflow's execution log (every failure ends in ExecutionFailed with the
    error of its Fail state) count each kind of failed release; one alarm per kind. Returns the metrics."""
    machine = names.promotion_state_machine
    log_group = logs.LogGroup.from_log_group_name(scope, "PromotionLogs", state_machine_log_group(machine))
    metrics = {}
    for what, errors in WORKFLOW_ERRORS.items():
        pattern = logs.FilterPattern.all(
            logs.FilterPattern.string_value("$.type", "=", "ExecutionFailed"),
            logs.FilterPattern.any(*[logs.FilterPattern.string_value("$.details.error", "=", e) for e in errors]),
        )
        metric_filter = logs.MetricFilter(
            scope,
            f"{_construct_id(what)}Filter",
            log_group=log_group,
            filter_pattern=pattern,
            metric_namespace=WORKFLOW_NAMESPACE,
            metric_name=names.workflow_error_alarm(what),
            metric_value="1",
        )
        metrics[what] = metric_filter.metric(statistic="Sum", period=FIVE_MINUTES)
        alerting.alarm(
            f"{_construct_id(what)}Alarm",
            name=names.workflow_error_alarm(what),
            description=f"{machine}: {WORKFLOW_ERROR_TEXT[what]} (error {' or '.join(errors)})",
            runbook=what,
            metric=metrics[what],
            threshold=1,
        )
    return metrics


def data_quarantined_alarm(alerting: Alerting, names: Names) -> None:
    function = names.validate_data_function
    alerting.alarm(
        "DataQuarantined",
        name=names.data_quarantined_alarm,
        description=f"{function} quarantined a dataset that failed the passenger schema",
        runbook="data-quarantined",
        # Powertools metrics (lambdas/validate_data): the `service` dimension is the function name.
        metric=_metric(METRICS_NAMESPACE, "DatasetsQuarantined", {"service": function}),
        threshold=1,
    )


def release_health_alarm(
    scope: Construct, names: Names, topic: sns.ITopic, own: Mapping[str, cloudwatch.Alarm], others: Sequence[str]
) -> cloudwatch.CompositeAlarm:
    """ALARM when anything says the release is not healthy: any alarm on a stage endpoint (the prod guards, staging
    5xx/latency, and per-endpoint alarms such as drift, found by name), a failed promotion, an automatic rollback."""
    endpoint_prefixes = tuple(f"{names.endpoint(stage)}-" for stage in STAGES)
    wanted = {executions_failed_alarm(names.promotion_state_machine), names.workflow_error_alarm("auto-rollback")}
    children: list[cloudwatch.IAlarm] = [
        alarm for name, alarm in own.items() if name.startswith(endpoint_prefixes) or name in wanted
    ]
    for index, name in enumerate(n for n in others if n.startswith(endpoint_prefixes) or n in wanted):
        children.append(cloudwatch.Alarm.from_alarm_name(scope, f"ReleaseHealthChild{index}", name))
    composite = cloudwatch.CompositeAlarm(
        scope,
        "ReleaseHealth",
        composite_alarm_name=names.release_health_alarm,
        alarm_description=with_runbook(
            f"The release of {names.prefix} is unhealthy: an endpoint alarm, a failed promotion or an automatic "
            "rollback (the alarm in ALARM says which)",
            "release-health",
        ),
        alarm_rule=cloudwatch.AlarmRule.any_of(
            *[cloudwatch.AlarmRule.from_alarm(child, cloudwatch.AlarmState.ALARM) for child in children]
        ),
    )
    composite.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return composite


def _metric(
    namespace: str, name: str, dimensions: dict, statistic: str = "Sum", period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace, metric_name=name, dimensions_map=dimensions, statistic=statistic, period=period
    )


def _construct_id(name: str) -> str:
    """A construct id from a resource name: `titanic-dev-validate-data` -> `TitanicDevValidateData`."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
