"""Phase 04: prod's target-tracking autoscaling around a rollout, the way AWS documents updating an autoscaled endpoint
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html):

- an update that changes the variant's instance type fails while the variant is a scalable target: before such an
  update, delete the scaling policy and deregister the target (`suspend_for_instance_type_change`); an update that
  only changes the model is allowed, and nothing is suspended;
- the update keeps the capacity autoscaling reached (UpdateEndpoint RetainAllVariantProperties, see endpoint_stage.py);
- after the new release serves, register the target and put the policy again (`register`): both calls are idempotent.

While a suspended rollout fails, prod keeps its retained capacity without autoscaling until the next release
(docs/04-serving-ecs-sagemaker.md, "Risks and pending").
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.names import VARIANT_NAME
from config.sections import EndpointStageSettings
from constructs import Construct
from constructs.promotion.tasks import sagemaker_arn
from constructs.workflow_fragments import ALL_ERRORS, sdk_call

SERVICE_LINKED_ROLE = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
# Application Auto Scaling authorizes scalable targets by an ARN with an id it generates: the calls name Resource "*".
AUTOSCALING_RESOURCES = ["*"]
AUTOSCALING_REASON = (
    "Application Auto Scaling's scalable-target ARNs carry an id the service generates, so RegisterScalableTarget, "
    "PutScalingPolicy, DeleteScalingPolicy and DeregisterScalableTarget (also called by DeleteEndpoint on a scalable "
    "target) of the endpoint variants name Resource '*'"
)


class ProdScaling:
    """The scaling calls of one endpoint's variant; each builder returns new states (ids prefixed with the stage)."""

    def __init__(self, scope: Construct, *, endpoint: str, fleet: EndpointStageSettings, config_arns: str) -> None:
        self._scope, self._endpoint, self._fleet, self._config_arns = scope, endpoint, fleet, config_arns
        self.target = {
            "ServiceNamespace": "sagemaker",
            "ResourceId": f"endpoint/{endpoint}/variant/{VARIANT_NAME}",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        }
        self.policy_name = f"{endpoint}-invocations"
        # The alarms a target tracking policy creates and deletes: TargetTracking-<resource id>-AlarmHigh/Low-<uuid>.
        self._alarms = Stack.of(scope).format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"TargetTracking-{self.target['ResourceId']}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.wildcard_reasons = {
            **dict.fromkeys(AUTOSCALING_RESOURCES, AUTOSCALING_REASON),
            self._alarms: "target tracking names its alarms TargetTracking-<resource id>-AlarmHigh/Low-<uuid>; the "
            "wildcard covers only the alarms of the prod variant's policy",
        }

    def _call(self, state_id: str, action: str, parameters: dict, statements: list) -> tasks.CallAwsService:
        return sdk_call(
            self._scope,
            state_id,
            service="applicationautoscaling",
            action=action,
            iam_action=f"application-autoscaling:{action[0].upper()}{action[1:]}",
            parameters={**self.target, **parameters},
            iam_resources=AUTOSCALING_RESOURCES,
            additional_iam_statements=statements,
            result_path=sfn.JsonPath.DISCARD,
        )

    def _alarm_statement(self, *actions: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=[f"cloudwatch:{a}" for a in actions], resources=[self._alarms])

    # ------------------------------------------------------------------------------------------ before the update
    def suspend_for_instance_type_change(
        self, previous_path: str, update: sfn.IChainable, describe_failed: sfn.IChainable
    ) -> sfn.State:
        """DescribeProdEndpointConfig (the config prod serves now) -> ProdInstanceTypeChanges: same instance type ->
        `update`; another -> DeleteProdScalingPolicy -> DeregisterProdScaling -> `update`.

        A missing policy or target (a previous rollout never registered them) fails the call harmlessly: both go on;
        any other failure leaves the target registered, and UpdateEndpoint then fails and is handled."""
        describe = sdk_call(
            self._scope,
            "DescribeProdEndpointConfig",
            service="sagemaker",
            action="describeEndpointConfig",
            parameters={"EndpointConfigName.$": f"{previous_path}.EndpointConfigName"},
            iam_resources=[self._config_arns],
            # [*] then ArrayGetItem: a list in every JSONPath dialect, then its first item (moto's JSONPath answers
            # `[0].X` with a list where AWS answers a value; this form is a value in both).
            result_selector={"instance_type.$": "States.ArrayGetItem($.ProductionVariants[*].InstanceType, 0)"},
            result_path=f"{previous_path}_config",
        )
        describe.add_catch(describe_failed, errors=[ALL_ERRORS], result_path="$.error")
        delete_policy = self._call(
            "DeleteProdScalingPolicy",
            "deleteScalingPolicy",
            {"PolicyName": self.policy_name},
            [self._alarm_statement("DeleteAlarms")],
        )
        deregister = self._call(
            "DeregisterProdScaling", "deregisterScalableTarget", {}, [self._alarm_statement("DeleteAlarms")]
        )
        delete_policy.add_catch(deregister, errors=[ALL_ERRORS], result_path="$.scaling_suspend_error")
        deregister.add_catch(update, errors=[ALL_ERRORS], result_path="$.scaling_suspend_error")
        delete_policy.next(deregister).next(update)
        same_type = sfn.Condition.string_equals(f"{previous_path}_config.instance_type", self._fleet.instance_type)
        describe.next(
            sfn.Choice(self._scope, "ProdInstanceTypeChanges").when(same_type, update).otherwise(delete_policy)
        )
        return describe

    # ------------------------------------------------------------------------------------------ after the release
    def register(self) -> tuple[tasks.CallAwsService, tasks.CallAwsService]:
        """RegisterProdScaling -> PutProdScalingPolicy: target tracking on invocations per instance, between the
        fleet's instance count and its maximum. What AWS documents each call needs of its caller is granted with it
        (https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_id-based-policy-examples.html)."""
        endpoint_arn = sagemaker_arn(self._scope, "endpoint", self._endpoint)
        register = self._call(
            "RegisterProdScaling",
            "registerScalableTarget",
            {"MinCapacity": self._fleet.instance_count, "MaxCapacity": self._fleet.max_instances},
            [
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
                    resources=[endpoint_arn],
                ),
                iam.PolicyStatement(actions=["sagemaker:DescribeEndpointConfig"], resources=[self._config_arns]),
                iam.PolicyStatement(
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[
                        Stack.of(self._scope).format_arn(
                            service="iam", region="", resource="role", resource_name=SERVICE_LINKED_ROLE
                        )
                    ],
                    conditions={
                        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
                    },
                ),
            ],
        )
        put_policy = self._call(
            "PutProdScalingPolicy",
            "putScalingPolicy",
            {
                "PolicyName": self.policy_name,
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": self._fleet.target_invocations_per_instance,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
            [self._alarm_statement("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")],
        )
        return register, put_policy
