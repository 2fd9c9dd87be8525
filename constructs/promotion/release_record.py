"""Phase 04, promotion step 5 (prod only): record what prod serves now and what it replaced (the rollback target),
register prod's target-tracking autoscaling, and announce the release.

    ReadProdPackage -> RecordPreviousProdPackage -> RecordProdPackage -> RegisterProdScaling
    -> PutProdScalingPolicy -> NotifyReleased -> Released
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.names import VARIANT_NAME
from config.sections import EndpointStageSettings
from constructs import Construct
from constructs.promotion.targets import PromotionTargets
from constructs.promotion.tasks import read_parameter, sagemaker_arn, write_parameter
from constructs.workflow_fragments import FailureTail, Fragment, catch_all, error_cause

AUTOSCALING_SERVICE_ROLE = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
# Application Auto Scaling has no resource-level permissions for these calls.
AUTOSCALING_RESOURCES = ["*"]
AUTOSCALING_REASON = (
    "neither have application-autoscaling RegisterScalableTarget and PutScalingPolicy, which register the prod "
    "variant's target tracking after each rollout"
)


class ReleaseRecord(Fragment):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        targets: PromotionTargets,
        fleet: EndpointStageSettings,
        failed: FailureTail,
    ) -> None:
        super().__init__(scope, construct_id)
        self.wildcard_reasons = dict.fromkeys(AUTOSCALING_RESOURCES, AUTOSCALING_REASON)
        current = targets.current_package_parameters["prod"]
        endpoint = targets.endpoint_names["prod"]
        read_current = read_parameter(self, "ReadProdPackage", current, "$.replaced")
        write_previous = write_parameter(
            self, "RecordPreviousProdPackage", targets.previous_package_parameter, "$.replaced.value"
        )
        write_current = write_parameter(self, "RecordProdPackage", current, "$.model_package_arn")
        register_scaling, put_policy = self._autoscaling(endpoint, fleet)
        notify = tasks.SnsPublish(
            self,
            "NotifyReleased",
            topic=targets.alerts_topic,
            subject=f"{targets.names.prefix}: model released to prod",
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    f"{{}} now serves package {{}} (mode {{}}); it replaced {{}}. Rollback: make rollback "
                    f"ENV={targets.names.env} STAGE=prod",
                    endpoint,
                    sfn.JsonPath.string_at("$.model_package_arn"),
                    sfn.JsonPath.string_at("$.mode"),
                    sfn.JsonPath.string_at("$.replaced.value"),
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        not_recorded = failed.failure(
            self,
            "ProdReleaseNotRecorded",
            "RecordFailed",
            sfn.JsonPath.format("prod serves the new package but recording or scaling it failed: {}", error_cause()),
        )
        for state in (read_current, write_previous, write_current, register_scaling, put_policy):
            state.add_catch(not_recorded, **catch_all())
        (
            read_current.next(write_previous)
            .next(write_current)
            .next(register_scaling)
            .next(put_policy)
            .next(notify)
            .next(sfn.Succeed(self, "Released"))
        )
        self._start = read_current

    def _autoscaling(
        self, endpoint: str, fleet: EndpointStageSettings
    ) -> tuple[tasks.CallAwsService, tasks.CallAwsService]:
        """Target tracking on invocations per instance, between the fleet's instance count and its maximum."""
        scaling = {
            "ServiceNamespace": "sagemaker",
            "ResourceId": f"endpoint/{endpoint}/variant/{VARIANT_NAME}",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        }
        register_scaling = tasks.CallAwsService(
            self,
            "RegisterProdScaling",
            service="applicationautoscaling",
            action="registerScalableTarget",
            iam_action="application-autoscaling:RegisterScalableTarget",
            parameters={**scaling, "MinCapacity": fleet.instance_count, "MaxCapacity": fleet.max_instances},
            iam_resources=AUTOSCALING_RESOURCES,
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[
                        Stack.of(self).format_arn(
                            service="iam", region="", resource="role", resource_name=AUTOSCALING_SERVICE_ROLE
                        )
                    ],
                    conditions={
                        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
                    },
                ),
                iam.PolicyStatement(
                    actions=["sagemaker:UpdateEndpointWeightsAndCapacities"],
                    resources=[sagemaker_arn(self, "endpoint", endpoint)],
                ),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        put_policy = tasks.CallAwsService(
            self,
            "PutProdScalingPolicy",
            service="applicationautoscaling",
            action="putScalingPolicy",
            iam_action="application-autoscaling:PutScalingPolicy",
            parameters={
                **scaling,
                "PolicyName": f"{endpoint}-invocations",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": fleet.target_invocations_per_instance,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
            iam_resources=AUTOSCALING_RESOURCES,
            result_path=sfn.JsonPath.DISCARD,
        )
        return register_scaling, put_policy
