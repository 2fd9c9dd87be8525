"""Phase 06 (orchestration): the promotion and retraining workflows and what starts them.

- Promotion: started by the approval of a model package in this environment's group (EventBridge) or by the operator
  CLI (scripts/release.py); constructs/promotion_workflow.py describes its states.
- Retraining: started by the EventBridge Scheduler schedule and by the data stack's DatasetValidated event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from config import EnvironmentConfig
from constructs import Construct
from constructs.compliance import acknowledge
from constructs.promotion import PromotionTargets, PromotionWorkflow
from constructs.python_function import PowertoolsFunction
from constructs.retraining_workflow import RetrainingWorkflow
from stacks.foundation import Foundation
from stacks.serving import Serving

# The executions' own overall limit: the approval window plus time for two rollouts.
ROLLOUT_ALLOWANCE = Duration.hours(12)


@dataclass(frozen=True)
class Orchestration:
    promotion_state_machine: sfn.IStateMachine
    retraining_state_machine: sfn.IStateMachine


class OrchestrationStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        foundation: Foundation,
        serving: Serving,
        pipeline_name: str,
        pipeline_arn: str,
        pipeline_input_parameter: str,
        model_package_group_name: str,
        model_package_group_arn: str,
        dataset_event_source: str,
        dataset_event_detail_type: str,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        destroy = config.data_removal_policy == "destroy"

        smoke = PowertoolsFunction(
            self,
            "SmokeTest",
            function_name=f"{config.prefix}-smoke-test",
            source="lambdas/smoke_test",
            shared_files=("ml/__init__.py", "ml/smoke.py"),
            description="Smoke test of a titanic endpoint with the known passengers of ml/smoke.py",
            key=foundation.key,
            log_retention_days=config.log_retention_days,
            destroy_on_delete=destroy,
            timeout=Duration.seconds(60),
            retry_attempts=0,  # invoked synchronously by the promotion workflow, which handles failures itself
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

        approval_timeout = Duration.hours(config.orchestration.approval_timeout_hours)
        promotion = PromotionWorkflow(
            self,
            "Promotion",
            targets=PromotionTargets(
                names=config.names,
                tags=config.mandatory_tags,
                endpoint_names=serving.endpoint_names,
                endpoint_role=serving.endpoint_role,
                key=foundation.key,
                data_capture_uri=serving.data_capture_uri,
                guard_alarm_names=serving.guard_alarm_names,
                current_package_parameters=serving.current_package_parameters,
                previous_package_parameter=serving.previous_package_parameter,
                model_package_group_name=model_package_group_name,
                alerts_topic=foundation.alerts_topic,
                smoke_function=smoke.function,
            ),
            serving=config.serving,
            approval_timeout=approval_timeout,
        )
        promotion_name = f"{config.prefix}-promotion"
        promotion_machine = self._state_machine(
            "PromotionStateMachine",
            promotion_name,
            promotion.definition,
            approval_timeout.plus(ROLLOUT_ALLOWANCE),
            config,
            destroy,
            wildcard_note="; neither have application-autoscaling RegisterScalableTarget and PutScalingPolicy, which "
            "register the prod variant's target tracking after each rollout",
        )

        self._alarm_on_failed_executions(promotion_machine, promotion_name, foundation.alerts_topic)

        sagemaker_arn = f"arn:<AWS::Partition>:sagemaker:{config.region}:<AWS::AccountId>"
        promotion_policy = promotion_machine.role.node.find_child("DefaultPolicy")
        for rule, reason in {
            f"{sagemaker_arn}:model-package/{model_package_group_name}/*": "the workflow may describe any version of "
            "this environment's model package group (the version arrives in the event); other groups stay unreadable",
            f"{sagemaker_arn}:model/{config.prefix}-*": "each release creates a model named <prefix>-<release uuid>; "
            "the wildcard covers only this environment's titanic models",
            f"{sagemaker_arn}:endpoint-config/{config.prefix}-*": "each release creates endpoint configs named "
            "<prefix>-<stage>-<release uuid> and rollbacks reuse older ones; only this environment's configs match",
            f"<{_logical_id(self, smoke.function)}.Arn>:*": "CDK's LambdaInvoke grants the function and its versions "
            "(ARN:*) so retries of a qualified invoke work; it is the one smoke-test function",
        }.items():
            acknowledge(promotion_policy, f"AwsSolutions-IAM5[Resource::{rule}]", reason)

        retraining_name = f"{config.prefix}-retraining"
        retraining = RetrainingWorkflow(
            self,
            "Retraining",
            state_machine_name=retraining_name,
            pipeline_name=pipeline_name,
            pipeline_arn=pipeline_arn,
            input_data_parameter=pipeline_input_parameter,
            alerts_topic=foundation.alerts_topic,
            poll_interval=Duration.seconds(config.orchestration.pipeline_poll_seconds),
        )
        retraining_machine = self._state_machine(
            "RetrainingStateMachine", retraining_name, retraining.definition, Duration.hours(24), config, destroy
        )
        self._alarm_on_failed_executions(retraining_machine, retraining_name, foundation.alerts_topic)

        acknowledge(
            retraining_machine.role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{sagemaker_arn}:pipeline/{pipeline_name}/execution/*]",
            "execution ids are generated by SageMaker when the workflow starts the pipeline; the wildcard covers only "
            "executions of this environment's training pipeline",
        )

        # A package approved in this environment's group starts a release.
        events.Rule(
            self,
            "OnPackageApproved",
            rule_name=f"{config.prefix}-package-approved",
            description=f"An Approved model package in {model_package_group_name} starts {config.prefix}-promotion",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [model_package_group_name], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[
                targets.SfnStateMachine(
                    promotion_machine,
                    input=events.RuleTargetInput.from_object(
                        {
                            "model_package_arn": events.EventField.from_path("$.detail.ModelPackageArn"),
                            "mode": "release",
                        }
                    ),
                    retry_attempts=3,
                )
            ],
        )
        # A validated dataset starts a retraining.
        events.Rule(
            self,
            "OnDatasetValidated",
            rule_name=f"{config.prefix}-dataset-validated",
            description=f"A validated dataset starts {retraining_name}",
            event_pattern=events.EventPattern(source=[dataset_event_source], detail_type=[dataset_event_detail_type]),
            targets=[
                targets.SfnStateMachine(
                    retraining_machine,
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
        self._schedule(config, retraining_machine)

        self.model_package_group_arn = model_package_group_arn  # the group this stack promotes from (for readers)
        self.outputs = Orchestration(
            promotion_state_machine=promotion_machine, retraining_state_machine=retraining_machine
        )

    def _state_machine(
        self,
        construct_id: str,
        name: str,
        definition: sfn.IChainable,
        timeout: Duration,
        config: EnvironmentConfig,
        destroy: bool,
        wildcard_note: str = "",
    ) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=f"/aws/vendedlogs/states/{name}",
            removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
        )
        log_group.node.default_child.retention_in_days = config.log_retention_days
        machine = sfn.StateMachine(
            self,
            construct_id,
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        policy = machine.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery "
            "(logs:CreateLogDelivery and related) have no resource-level permissions (AWS service authorization "
            "reference)" + wildcard_note,
        )
        return machine

    def _alarm_on_failed_executions(self, machine: sfn.StateMachine, name: str, alerts_topic: sns.ITopic) -> None:
        """Safety net: an execution that fails, times out or is aborted alerts even when no state could catch it
        (a runtime error, the whole-execution timeout, a manual stop). Handled failures also send their own, more
        detailed alert from inside the workflow."""
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
            self,
            f"{machine.node.id}ExecutionsFailed",
            alarm_name=f"{name}-executions-failed",
            alarm_description=f"An execution of {name} failed, timed out or was aborted",
            metric=failed,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(alerts_topic))

    def _schedule(self, config: EnvironmentConfig, machine: sfn.StateMachine) -> None:
        settings = config.orchestration
        role = iam.Role(
            self,
            "RetrainScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self.account}}
            ),
            description=f"{config.prefix}: lets the retraining schedule start the retraining workflow",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine.state_machine_arn])
        )
        scheduler.CfnSchedule(
            self,
            "RetrainSchedule",
            name=f"{config.prefix}-retraining",
            description=f"Retrains {config.prefix} on a schedule ({settings.retrain_timezone})",
            schedule_expression=settings.retrain_schedule,
            schedule_expression_timezone=settings.retrain_timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if settings.retrain_schedule_enabled else "DISABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=machine.state_machine_arn,
                role_arn=role.role_arn,
                input=json.dumps({"trigger": "schedule"}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=3),
            ),
        )


def _logical_id(stack: Stack, function) -> str:
    """The logical id cdk-nag shows for a resource of this stack (e.g. SmokeTestFunction3BA52CAE)."""
    return stack.resolve(stack.get_logical_id(function.node.default_child))
