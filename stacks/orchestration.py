"""Phase 06 (orchestration): the promotion and retraining workflows and what starts them.

- Promotion (the phase 04 release: constructs/promotion/): started by the approval of a model package in this
  environment's group (EventBridge) or by the operator CLI (scripts/release.py).
- Retraining (constructs/retraining_workflow.py): started by the EventBridge Scheduler schedule, by the data
  stack's DatasetValidated event and by the prod endpoint's drift alarm.
- The drift monitor (constructs/drift_monitor.py): the scheduled drift check of the endpoints' captured traffic,
  its alarms, and the alarm -> retraining rule.
Both run as monitored state machines (constructs/monitored_state_machine.py): logs, tracing, a failure alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from config import EnvironmentConfig
from config.names import RELEASE_ACTOR_APPROVAL_EVENT
from constructs import Construct
from constructs.compliance import skip_checkov
from constructs.drift_monitor import DriftMonitor, DriftMonitorOutputs, DriftMonitorTargets
from constructs.grants import publish_to_encrypted_topic
from constructs.monitored_state_machine import MonitoredStateMachine
from constructs.promotion import PromotionTargets, PromotionWorkflow
from constructs.python_function import PowertoolsFunction
from constructs.retraining_workflow import RetrainingWorkflow
from constructs.schedules import schedule, scheduler_role
from stacks.data import DataLake
from stacks.foundation import Foundation
from stacks.serving import Serving
from stacks.training import TrainingPipeline

# The executions' own overall limit: the approval window plus time for two rollouts.
ROLLOUT_ALLOWANCE = Duration.hours(12)
RETRAINING_TIMEOUT = Duration.hours(24)
SMOKE_NO_RESERVATION = (
    "Invoked only by the promotion workflow, synchronously, once per endpoint stage of a release: it never fans out, "
    "so a cap limits nothing, and a reservation would only take capacity from the account's shared pool (and make "
    "the deploy fail on an account still at the starting quota of 10)."
)
# checkov CKV_AWS_111 on the promotion role's policy (the cdk-nag IAM5 acknowledgment of '*' says the same).
PROMOTION_UNSCOPED_WRITES = (
    "application-autoscaling:RegisterScalableTarget and PutScalingPolicy (prod's target tracking after each rollout) "
    "act on scalable targets whose ARNs hold an ID Application Auto Scaling generates at registration "
    "(scalable-target/<id>), unknown before the first call: no resource ARN can name prod's variant in advance."
)


@dataclass(frozen=True)
class Orchestration:
    promotion_state_machine: sfn.IStateMachine
    retraining_state_machine: sfn.IStateMachine
    drift_monitor: DriftMonitorOutputs  # the check function, its dead-letter queue, the drift and schema alarms


class OrchestrationStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        foundation: Foundation,
        serving: Serving,
        training: TrainingPipeline,
        data: DataLake,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._config, self._names = config, config.names
        smoke = self._smoke_test_function(foundation, serving)
        approval_timeout = Duration.hours(config.orchestration.approval_timeout_hours)
        promotion = PromotionWorkflow(
            self,
            "Promotion",
            targets=PromotionTargets(
                names=self._names,
                tags=config.mandatory_tags,
                endpoint_names=serving.endpoint_names,
                endpoint_role=serving.endpoint_role,
                key=foundation.key,
                data_capture_uri=serving.data_capture_uri,
                guard_alarm_names=serving.guard_alarm_names,
                artifacts_bucket=foundation.artifacts_bucket,
                releases_table=serving.releases_table,
                model_package_group_name=training.model_package_group_name,
                alerts_topic=foundation.alerts_topic,
                smoke_function=smoke.function,
            ),
            serving=config.serving,
            ml=config.ml,
            approval_timeout=approval_timeout,
        )
        promotion_machine = self._monitored(
            "PromotionStateMachine",
            self._names.promotion_state_machine,
            promotion,
            approval_timeout.plus(ROLLOUT_ALLOWANCE),
            foundation,
        )
        retraining = RetrainingWorkflow(
            self,
            "Retraining",
            state_machine_name=self._names.retraining_state_machine,
            pipeline_name=training.pipeline_name,
            pipeline_arn=training.pipeline_arn,
            input_data_parameter=training.input_data_parameter,
            alerts_topic=foundation.alerts_topic,
            poll_interval=Duration.seconds(config.orchestration.pipeline_poll_seconds),
        )
        retraining_machine = self._monitored(
            "RetrainingStateMachine", self._names.retraining_state_machine, retraining, RETRAINING_TIMEOUT, foundation
        )
        skip_checkov(promotion_machine.role.node.find_child("DefaultPolicy"), "CKV_AWS_111", PROMOTION_UNSCOPED_WRITES)
        self._release_on_approval(promotion_machine, training.model_package_group_name)
        self._retrain_on_new_data(retraining_machine, data)
        self._retrain_on_schedule(retraining_machine)
        drift = DriftMonitor(
            self,
            "DriftMonitor",
            targets=DriftMonitorTargets(
                names=self._names,
                key=foundation.key,
                artifacts_bucket=foundation.artifacts_bucket,
                endpoint_names=serving.endpoint_names,
                model_package_group_name=training.model_package_group_name,
                alerts_topic=foundation.alerts_topic,
                retraining_state_machine=retraining_machine,
            ),
            settings=config.monitoring,
            log_retention_days=config.log_retention_days,
            destroy_on_delete=config.destroy_on_delete,
        )
        self.outputs = Orchestration(
            promotion_state_machine=promotion_machine,
            retraining_state_machine=retraining_machine,
            drift_monitor=drift.outputs,
        )

    def _smoke_test_function(self, foundation: Foundation, serving: Serving) -> PowertoolsFunction:
        """The Lambda the promotion workflow smoke-tests each endpoint with (it may invoke only those endpoints)."""
        smoke = PowertoolsFunction(
            self,
            "SmokeTest",
            function_name=self._names.smoke_test_function,
            source="lambdas/smoke_test",
            shared_files=("ml/__init__.py", "ml/smoke.py"),
            description="Smoke test of a titanic endpoint with the known passengers of ml/smoke.py",
            key=foundation.key,
            log_retention_days=self._config.log_retention_days,
            destroy_on_delete=self._config.destroy_on_delete,
            timeout=Duration.seconds(60),
            retry_attempts=0,  # invoked synchronously by the promotion workflow, which handles failures itself
            no_reservation_reason=SMOKE_NO_RESERVATION,
        )
        smoke.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:InvokeEndpoint"],
                resources=[
                    self.format_arn(service="sagemaker", resource="endpoint", resource_name=name)
                    for name in serving.endpoint_names.values()
                ],
            )
        )
        return smoke

    def _monitored(
        self,
        construct_id: str,
        name: str,
        workflow: PromotionWorkflow | RetrainingWorkflow,
        timeout: Duration,
        foundation: Foundation,
    ) -> sfn.StateMachine:
        machine = MonitoredStateMachine(
            self,
            construct_id,
            state_machine_name=name,
            definition=workflow.definition,
            timeout=timeout,
            alerts_topic=foundation.alerts_topic,
            key=foundation.key,
            log_retention_days=self._config.log_retention_days,
            destroy_on_delete=self._config.destroy_on_delete,
            wildcard_reasons=workflow.wildcard_reasons,
        ).state_machine
        # Both workflows publish their alerts (and the approval request) to the topic the environment key encrypts.
        machine.add_to_role_policy(publish_to_encrypted_topic(foundation.key))
        return machine

    def _release_on_approval(self, machine: sfn.StateMachine, model_package_group_name: str) -> None:
        """A package approved in this environment's group starts a release."""
        events.Rule(
            self,
            "OnPackageApproved",
            rule_name=self._names.package_approved_rule,
            description=f"An Approved model package in {model_package_group_name} starts "
            f"{self._names.promotion_state_machine}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [model_package_group_name], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[
                targets.SfnStateMachine(
                    machine,
                    input=events.RuleTargetInput.from_object(
                        {
                            "model_package_arn": events.EventField.from_path("$.detail.ModelPackageArn"),
                            "mode": "release",
                            "actor": RELEASE_ACTOR_APPROVAL_EVENT,
                        }
                    ),
                    retry_attempts=3,
                )
            ],
        )

    def _retrain_on_new_data(self, machine: sfn.StateMachine, data: DataLake) -> None:
        """A validated dataset starts a retraining on it."""
        events.Rule(
            self,
            "OnDatasetValidated",
            rule_name=self._names.dataset_validated_rule,
            description=f"A validated dataset starts {self._names.retraining_state_machine}",
            event_pattern=events.EventPattern(source=[data.event_source], detail_type=[data.event_detail_type]),
            targets=[
                targets.SfnStateMachine(
                    machine,
                    input=events.RuleTargetInput.from_object(
                        {
                            "trigger": "dataset",
                            "curated_uri": events.EventField.from_path("$.detail.curated_uri"),
                            "sha256": events.EventField.from_path("$.detail.sha256"),
                        }
                    ),
                    retry_attempts=3,
                )
            ],
        )

    def _retrain_on_schedule(self, machine: sfn.StateMachine) -> None:
        settings, prefix = self._config.orchestration, self._names.prefix
        role = scheduler_role(
            self,
            "RetrainScheduleRole",
            description=f"{prefix}: lets the retraining schedule start the retraining workflow",
            action="states:StartExecution",
            target_arn=machine.state_machine_arn,
        )
        schedule(
            self,
            "RetrainSchedule",
            role=role,
            target_arn=machine.state_machine_arn,
            name=self._names.retraining_schedule,
            description=f"Retrains {prefix} on a schedule ({settings.retrain_timezone})",
            expression=settings.retrain_schedule,
            timezone=settings.retrain_timezone,
            payload={"trigger": "schedule"},
            retries=3,
            state="ENABLED" if settings.retrain_schedule_enabled else "DISABLED",
        )
