"""Phase 04 (run by the phase 06 orchestration stack): the promotion workflow. An approved model package goes to
staging, is smoke-tested, waits for a human, then rolls out to prod behind SageMaker deployment guardrails. Every
failure path alerts and leaves the endpoints on their last good endpoint config; every stage that starts serving a
package is recorded in the release history (release_record.py).

Input: {"model_package_arn": "<arn>", "mode": "release" | "force" | "rollback", "actor"?: str, "reason"?: str}.
"release" must not score worse than the package prod serves (champion.py); "force" (an operator's `make release
... FORCE=yes`, with a reason) skips that comparison and is recorded as such; "rollback" skips the comparison, staging
and the approval gate: it redeploys a package prod served before (the operator CLI picks it from the release
history, scripts/release.py).

    admission (one release at a time) -> champion check -> CreateModel -> RouteByMode -> staging rollout
        -> staging record -> approval gate -> prod rollout (guarded, autoscaling kept)
        -> prod record, autoscaling, announcement           (rollback) ----^

Waiting is done with Wait + Describe loops, not `.sync` integrations: they behave the same in AWS and in the executed
tests (tests/workflows/), which run this exact definition from the synthesized template.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.sections import MlSettings, ServingSettings
from constructs import Construct
from constructs.compliance import merge_wildcard_reasons
from constructs.promotion.admission import Admission
from constructs.promotion.approval import ApprovalGate
from constructs.promotion.autoscaling import ProdScaling
from constructs.promotion.champion import ChampionCheck
from constructs.promotion.endpoint_stage import EndpointRollout
from constructs.promotion.guardrails import deployment_config
from constructs.promotion.release_record import ReleaseRecord, record_release
from constructs.promotion.targets import PromotionTargets
from constructs.promotion.tasks import pass_role, sagemaker_arn, sdk_tags
from constructs.workflow_fragments import FailureTail, catch_all, error_cause, sdk_call


class PromotionWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        targets: PromotionTargets,
        serving: ServingSettings,
        ml: MlSettings,
        approval_timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        names = targets.names
        failed = self._failure_tail(targets)
        # Its own ARN, built from its fixed name (a reference to the state machine would be circular).
        own_arn = Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=names.promotion_state_machine,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        admission = Admission(
            self,
            "Admission",
            release_prefix=names.prefix,
            stages=tuple(targets.endpoint_names),
            model_package_group_name=targets.model_package_group_name,
            state_machine_arn=own_arn,
            failed=failed,
        )
        champion = ChampionCheck(self, "ChampionCheck", targets=targets, ml=ml, failed=failed)
        create_model = self._create_model(targets, failed)
        rollout = {"targets": targets, "serving": serving, "failed": failed}
        staging = EndpointRollout(
            self, "StagingRollout", stage="staging", fleet=serving.staging, guardrails=None, **rollout
        )
        record_staging = record_release(self, "staging", targets, failed)
        approval = ApprovalGate(
            self,
            "Approval",
            names=names,
            alerts_topic=targets.alerts_topic,
            timeout=approval_timeout,
            failed=failed,
        )
        scaling = ProdScaling(
            self, endpoint=targets.endpoint_names["prod"], fleet=serving.prod, config_arns=staging.config_arns
        )
        prod = EndpointRollout(
            self,
            "ProdRollout",
            stage="prod",
            fleet=serving.prod,
            guardrails=deployment_config(serving.prod, targets.guard_alarm_names),
            scaling=scaling,
            **rollout,
        )
        release_record = ReleaseRecord(self, "ReleaseRecord", targets=targets, scaling=scaling, failed=failed)

        # {wildcard resource: reason} of what the tasks are granted, for the state machine's cdk-nag acknowledgments.
        self.wildcard_reasons = merge_wildcard_reasons(
            admission.wildcard_reasons,
            champion.wildcard_reasons,
            self._model_reasons,
            staging.wildcard_reasons,
            prod.wildcard_reasons,
            release_record.wildcard_reasons,
        )
        self.definition = (
            admission.next(champion)
            .next(create_model)
            .next(
                sfn.Choice(self, "RouteByMode")
                .when(sfn.Condition.string_equals("$.mode", "rollback"), prod)
                .otherwise(staging.next(record_staging).next(approval).next(prod).next(release_record))
            )
        )

    def _failure_tail(self, targets: PromotionTargets) -> FailureTail:
        """Alert with what failed, the execution input and id, then fail the execution."""
        describe = sfn.Pass(
            self,
            "DescribeFailure",
            parameters={
                "outcome": "failed",
                "error.$": "$.failure.error",
                "cause.$": "$.failure.cause",
                "input.$": "$$.Execution.Input",
                "execution.$": "$$.Execution.Id",
            },
            result_path="$.alert",
        )
        publish = tasks.SnsPublish(
            self,
            "PublishFailure",
            topic=targets.alerts_topic,
            subject=f"{targets.names.prefix}: model promotion stopped",
            message=sfn.TaskInput.from_text(sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.alert"))),
            result_path=sfn.JsonPath.DISCARD,
        )
        return FailureTail(self, "Failure", alert=[describe, publish], fail_state_id="PromotionFailed")

    def _create_model(self, targets: PromotionTargets, failed: FailureTail) -> tasks.CallAwsService:
        """The release's SageMaker model, from the package, run by the serving stack's endpoint role."""
        models = sagemaker_arn(self, "model", targets.names.release_resources_pattern)
        self._model_reasons = {
            models: "each release creates a model named <prefix>-<release uuid>; the wildcard covers only this "
            "environment's titanic models"
        }
        create_model = sdk_call(
            self,
            "CreateModel",
            service="sagemaker",
            action="createModel",
            parameters={
                "ModelName.$": "$.names.model",
                "ExecutionRoleArn": targets.endpoint_role.role_arn,
                "PrimaryContainer": {"ModelPackageName.$": "$.model_package_arn"},
                "Tags": sdk_tags(targets.tags),
            },
            iam_resources=[models],
            additional_iam_statements=[
                pass_role(targets.endpoint_role),
                iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[models]),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        create_model.add_catch(failed.failure(self, "ModelNotCreated", "ModelNotCreated", error_cause()), **catch_all())
        return create_model
