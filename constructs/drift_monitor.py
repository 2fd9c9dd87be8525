"""Phase 06: the drift monitor: a scheduled check of each endpoint's captured traffic, its alarms, and retraining.

    EventBridge Scheduler ([monitoring] schedule) -> Lambda titanic-<env>-drift-check (lambdas/drift_check)
      reads data-capture/<env>/ and the served model's published baseline, writes drift-reports/<env>/,
      publishes DRIFT_METRICS_NAMESPACE metrics per endpoint and variant
    -> per endpoint: alarm <endpoint>-drift (DriftedFeatures >= 1) and <endpoint>-capture-schema-violations
       (SchemaViolationRate > violation_rate_max), both to the alerts topic
    -> EventBridge rule: the drift alarm of a RETRAIN_ON_DRIFT_STAGES endpoint entering ALARM starts the retraining
       workflow with {"trigger": "drift", "alarm": <alarm name>}.

The function reads only the capture and baselines prefixes, writes only the reports prefix, describes only this
environment's endpoints, models, configs and packages, and publishes only to its namespace (condition)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from config.names import DRIFT_METRICS_NAMESPACE, RETRAIN_ON_DRIFT_STAGES, VARIANT_NAME, Names
from config.sections import MonitoringSettings
from constructs import Construct
from constructs.grants import PolicyGrants
from constructs.python_function import PowertoolsFunction
from constructs.schedules import schedule, scheduler_role
from ml.drift import Thresholds

# What the handler imports: ml/drift.py's check and what it needs, standard library only (no numpy in the Lambda).
SHARED_FILES = tuple(
    f"ml/{name}.py"
    for name in ("__init__", "baseline", "capture", "contracts", "dataset", "drift", "payload", "schema", "stats")
)
# Measured (make bench-drift-check, docs/06 "Model monitoring"): the check's heap peaks at 3.5 x the window's capture
# size, the process holds 87 MB before reading any; with margins, a window may take 5 MB of memory per MB of
# capture above a 128 MB reserve. A larger window is refused before anything is downloaded, not run out of memory.
MEMORY_PER_CAPTURE_MB = 5
RUNTIME_RESERVE_MB = 128
DRIFT_RUNBOOK = "docs/runbooks/drift-detected.md"
SCHEMA_RUNBOOK = "docs/runbooks/capture-schema-violations.md"
MAX_ALARM_PERIOD_MINUTES = 24 * 60
NO_RESERVATION = (
    "Started only by its schedule, one invocation per window (a retry re-reads it), so it never runs beside itself; a "
    "reservation caps nothing and fails the first deploy of a new account (Lambda concurrency quota 10)."
)


@dataclass(frozen=True)
class DriftMonitorTargets:
    """What the monitor reads, writes and reports to (from the foundation, serving and training stacks)."""

    names: Names
    key: kms.IKey
    artifacts_bucket: s3.IBucket
    endpoint_names: Mapping[str, str]  # stage -> endpoint
    model_package_group_name: str
    alerts_topic: sns.ITopic
    retraining_state_machine: sfn.IStateMachine


@dataclass(frozen=True)
class DriftMonitorOutputs:
    """For dashboards and other stacks: the function, its dead-letter queue, the alarm names per stage."""

    function: lambda_.IFunction
    dead_letter_queue: sqs.IQueue
    drift_alarm_names: dict[str, str]  # stage -> alarm
    schema_alarm_names: dict[str, str]  # stage -> alarm


def check_environment(names: Names, settings: MonitoringSettings, *, bucket: str, package_arn_prefix: str) -> dict:
    """The check function's environment variables (lambdas/drift_check/handler.py `Settings`); the tests run the
    handler with this same mapping."""
    thresholds = asdict(Thresholds.from_settings(settings))  # the [monitoring] values the check reads
    return {
        "ARTIFACTS_BUCKET": bucket,
        "CAPTURE_PREFIX": f"{names.data_capture_prefix}/",
        "BASELINES_PREFIX": f"{names.pipeline_baselines_prefix}/",
        "REPORTS_PREFIX": f"{names.drift_reports_prefix}/",
        "RESOURCE_PREFIX": f"{names.prefix}-",  # the promotion workflow's models and endpoint configs
        "MODEL_PACKAGE_ARN_PREFIX": package_arn_prefix,
        "VARIANT_NAME": VARIANT_NAME,
        "WINDOW_HOURS": str(settings.window_hours),
        "MAX_WINDOW_MB": str(max_window_mb(settings.check_memory_mb)),
        "DRIFT_METRICS_NAMESPACE": DRIFT_METRICS_NAMESPACE,
        "DRIFT_THRESHOLDS": json.dumps(thresholds, sort_keys=True),
    }


def max_window_mb(memory_mb: int) -> int:
    """The largest window of capture (MB) a function of `memory_mb` checks."""
    return max(1, (memory_mb - RUNTIME_RESERVE_MB) // MEMORY_PER_CAPTURE_MB)


class DriftMonitor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        targets: DriftMonitorTargets,
        settings: MonitoringSettings,
        log_retention_days: int,
        destroy_on_delete: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self._targets, self._settings, self._names = targets, settings, targets.names
        check = PowertoolsFunction(
            self,
            "Check",
            function_name=self._names.drift_check_function,
            source="lambdas/drift_check",
            shared_files=SHARED_FILES,
            description="Drift check of each titanic endpoint's captured traffic against its model's baseline",
            key=targets.key,
            log_retention_days=log_retention_days,
            destroy_on_delete=destroy_on_delete,
            environment=check_environment(
                targets.names,
                settings,
                bucket=targets.artifacts_bucket.bucket_name,
                package_arn_prefix=Stack.of(self).format_arn(
                    service="sagemaker",
                    resource="model-package",
                    resource_name=f"{targets.model_package_group_name}/",
                ),
            ),
            memory_size=settings.check_memory_mb,
            timeout=Duration.seconds(settings.check_timeout_seconds),
            retry_attempts=1,  # one retry of the same window (same report key, same data points), then dead letters
            no_reservation_reason=NO_RESERVATION,
        )
        self._grant(check.role)
        self._schedule(check.function)
        drift_alarms, schema_alarms = self._alarms()
        self._retrain_on_drift(drift_alarms)
        self.outputs = DriftMonitorOutputs(
            function=check.function,
            dead_letter_queue=check.dead_letter_queue,
            drift_alarm_names=drift_alarms,
            schema_alarm_names=schema_alarms,
        )

    def _grant(self, role: iam.IRole) -> None:
        names, bucket = self._names, self._targets.artifacts_bucket
        stack = Stack.of(self)
        policy = iam.Policy(self, "CheckPolicy", roles=[role])
        grants = PolicyGrants(policy)
        grants.add(
            iam.PolicyStatement(
                sid="ReadCapture",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{names.data_capture_prefix}/*")],
            ),
            because="SageMaker data capture chooses the keys (endpoint/variant/yyyy/mm/dd/hh/<file>.jsonl); the check "
            "reads objects of this environment's capture prefix only",
        )
        grants.add(
            iam.PolicyStatement(
                sid="ListCaptureWindow",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{names.data_capture_prefix}/*"]}},
            )
        )
        grants.add(
            iam.PolicyStatement(
                sid="ReadPublishedBaselines",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{names.pipeline_baselines_prefix}/*")],
            ),
            because="ModelEvaluation publishes one baseline.json per pipeline execution id; the folder holds nothing "
            "else (no splits, no model)",
        )
        grants.add(
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{names.drift_reports_prefix}/*")],
            ),
            because="one report per endpoint, variant and hour, keyed by the window's end",
        )
        grants.add(*self._describe_statements(stack), because=self._describe_reasons(stack))
        grants.add(
            iam.PolicyStatement(
                sid="PublishDriftMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": DRIFT_METRICS_NAMESPACE}},
            ),
            because="cloudwatch:PutMetricData has no resource-level permissions (AWS service authorization "
            f"reference); the cloudwatch:namespace condition limits it to {DRIFT_METRICS_NAMESPACE}",
        )

    def _arn(self, stack: Stack, resource: str, name: str) -> str:
        return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

    def _describe_statements(self, stack: Stack) -> tuple[iam.PolicyStatement, ...]:
        release = self._names.release_resources_pattern
        return (
            iam.PolicyStatement(
                sid="DescribeEndpoints",
                actions=["sagemaker:DescribeEndpoint"],
                resources=[self._arn(stack, "endpoint", name) for name in self._targets.endpoint_names.values()],
            ),
            iam.PolicyStatement(
                sid="DescribeServedModels",
                actions=["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                resources=[self._arn(stack, "endpoint-config", release), self._arn(stack, "model", release)],
            ),
            iam.PolicyStatement(
                sid="DescribeServedPackages",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[self._package_arns(stack)],
            ),
        )

    def _package_arns(self, stack: Stack) -> str:
        return self._arn(stack, "model-package", f"{self._targets.model_package_group_name}/*")

    def _describe_reasons(self, stack: Stack) -> dict[str, str]:
        release = self._names.release_resources_pattern
        made_by_releases = (
            "the promotion workflow names each release's endpoint configs and models <env prefix>-<stage>-<release "
            "id> at run time; the wildcard covers this environment's only"
        )
        return {
            self._arn(stack, "endpoint-config", release): made_by_releases,
            self._arn(stack, "model", release): made_by_releases,
            self._package_arns(stack): "package versions are numbered by the registry; the wildcard covers the "
            "versions of this environment's model package group only",
        }

    def _schedule(self, function: lambda_.IFunction) -> None:
        role = scheduler_role(
            self,
            "ScheduleRole",
            description=f"{self._names.prefix}: lets the drift check schedule invoke the drift check function",
            action="lambda:InvokeFunction",
            target_arn=function.function_arn,
        )
        payload = {
            "endpoints": dict(sorted(self._targets.endpoint_names.items())),
            "window_end": "<aws.scheduler.scheduled-time>",  # a retry checks the same window
        }
        schedule(
            self,
            "Schedule",
            role=role,
            target_arn=function.function_arn,
            name=self._names.drift_check_schedule,
            description=f"Checks {self._names.prefix}'s endpoints for drift ({self._settings.schedule})",
            expression=self._settings.schedule,
            timezone="UTC",  # capture folders are UTC hours
            payload=payload,
            retries=3,
            state="ENABLED",
        )

    def _metric(self, stage: str, name: str) -> cloudwatch.Metric:
        period = min(self._settings.schedule_period_minutes or 60, MAX_ALARM_PERIOD_MINUTES)
        return cloudwatch.Metric(
            namespace=DRIFT_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"EndpointName": self._targets.endpoint_names[stage], "VariantName": VARIANT_NAME},
            statistic="Maximum",
            period=Duration.minutes(period),
        )

    def _alarm(self, construct_id: str, name: str, description: str, metric, threshold, comparison) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            # No data = the check did not judge (not enough traffic, endpoint absent): keep the last verdict.
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self._targets.alerts_topic))

    def _alarms(self) -> tuple[dict[str, str], dict[str, str]]:
        names, settings = self._names, self._settings
        drift_alarms, schema_alarms = {}, {}
        for stage, endpoint in sorted(self._targets.endpoint_names.items()):
            drift_alarms[stage], schema_alarms[stage] = names.drift_alarm(stage), names.capture_schema_alarm(stage)
            retrains = f"; starts {names.retraining_state_machine}" if stage in RETRAIN_ON_DRIFT_STAGES else ""
            self._alarm(
                f"{stage.capitalize()}Drift",
                drift_alarms[stage],
                f"{endpoint}: captured inputs drifted from the served model's training baseline (DriftedFeatures >= 1 "
                f"in the last drift check){retrains}. Runbook: {DRIFT_RUNBOOK}",
                self._metric(stage, "DriftedFeatures"),
                1,
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )
            self._alarm(
                f"{stage.capitalize()}CaptureSchemaViolations",
                schema_alarms[stage],
                f"{endpoint}: more than {settings.violation_rate_max:.0%} of captured records break the passenger "
                f"schema or cannot be read. Runbook: {SCHEMA_RUNBOOK}",
                self._metric(stage, "SchemaViolationRate"),
                settings.violation_rate_max,
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
        return drift_alarms, schema_alarms

    def _retrain_on_drift(self, drift_alarms: Mapping[str, str]) -> None:
        watched = [drift_alarms[stage] for stage in RETRAIN_ON_DRIFT_STAGES if stage in drift_alarms]
        events.Rule(
            self,
            "RetrainOnDrift",
            rule_name=self._names.drift_retraining_rule,
            description=f"The drift alarm of {', '.join(watched)} entering ALARM starts "
            f"{self._names.retraining_state_machine}",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": watched, "state": {"value": ["ALARM"]}},
            ),
            targets=[
                event_targets.SfnStateMachine(
                    self._targets.retraining_state_machine,
                    input=events.RuleTargetInput.from_object(
                        {"trigger": "drift", "alarm": events.EventField.from_path("$.detail.alarmName")}
                    ),
                    retry_attempts=3,
                )
            ],
        )
