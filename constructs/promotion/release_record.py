"""Phase 04: release records. A stage that starts serving a package (its endpoint settled InService on the release's
endpoint config and its smoke test passed) gets one item in the release records table (stacks/serving.py):

    stage, released_at ($$.State.EnteredTime, ISO-8601 UTC), model_package_arn, package_version (N), model_name,
    endpoint_name, endpoint_config_name, mode (release | rollback | force), execution_arn, actor, reason (optional)

A rolled-back or failed rollout writes nothing: the newest item of a stage is what it serves. Items are only ever
added (the write is conditioned on a new key); the contract is docs/04-serving-ecs-sagemaker.md, "Release history".

`record_release` is the two states that write one item (staging after its smoke test, prod after its own).
`ReleaseRecord` is the end of a prod rollout: record, autoscaling registered again (autoscaling.py), announcement.

    RecordProdRelease -> RegisterProdScaling -> PutProdScalingPolicy -> NotifyReleased -> Released
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from constructs.promotion.autoscaling import ProdScaling
from constructs.promotion.targets import PromotionTargets
from constructs.workflow_fragments import FailureTail, Fragment, catch_all, error_cause

# Where admission puts the optional attributes of every record of the release ({} or {"reason": {"S": ...}}).
OPTIONAL_ATTRIBUTES = "$.record_optional"


def record_release(scope: Construct, stage: str, targets: PromotionTargets, failed: FailureTail) -> sfn.Chain:
    """<Stage>ReleaseItem (the item, with this state's entry time as released_at) -> Record<Stage>Release (PutItem,
    only if no item has that key). A failed write alerts and fails the execution: the stage serves the package, but
    the history would not say so."""
    title = stage.capitalize()
    item = sfn.Pass(
        scope,
        f"{title}ReleaseItem",
        parameters={
            "stage": {"S": stage},
            "released_at": {"S": sfn.JsonPath.string_at("$$.State.EnteredTime")},
            "model_package_arn": {"S": sfn.JsonPath.string_at("$.model_package_arn")},
            "package_version": {"N": sfn.JsonPath.format("{}", sfn.JsonPath.string_at("$.package.version"))},
            "model_name": {"S": sfn.JsonPath.string_at("$.names.model")},
            "endpoint_name": {"S": targets.endpoint_names[stage]},
            "endpoint_config_name": {"S": sfn.JsonPath.string_at(f"$.names.{stage}_config")},
            "mode": {"S": sfn.JsonPath.string_at("$.mode")},
            "execution_arn": {"S": sfn.JsonPath.execution_id},
            "actor": {"S": sfn.JsonPath.string_at("$.actor")},
        },
        result_path=f"$.{stage}_record",
    )
    table = targets.releases_table
    write = tasks.CallAwsService(
        scope,
        f"Record{title}Release",
        service="dynamodb",
        action="putItem",
        iam_action="dynamodb:PutItem",
        parameters={
            "TableName": table.table_name,
            "Item": sfn.JsonPath.json_merge(
                sfn.JsonPath.object_at(f"$.{stage}_record"), sfn.JsonPath.object_at(OPTIONAL_ATTRIBUTES)
            ),
            "ConditionExpression": "attribute_not_exists(released_at)",
        },
        iam_resources=[table.table_arn],
        # DynamoDB decrypts the table key of a customer-managed-key table with the caller's permission.
        additional_iam_statements=[iam.PolicyStatement(actions=["kms:Decrypt"], resources=[targets.key.key_arn])],
        result_path=sfn.JsonPath.DISCARD,
    )
    write.add_catch(
        failed.failure(
            scope,
            f"{title}ReleaseNotRecorded",
            "RecordFailed",
            sfn.JsonPath.format(
                f"{targets.endpoint_names[stage]} serves the new package but its release record was not written: {{}}",
                error_cause(),
            ),
        ),
        **catch_all(),
    )
    return item.next(write)


class ReleaseRecord(Fragment):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        targets: PromotionTargets,
        scaling: ProdScaling,
        failed: FailureTail,
    ) -> None:
        super().__init__(scope, construct_id)
        self.wildcard_reasons = dict(scaling.wildcard_reasons)
        endpoint = targets.endpoint_names["prod"]
        register_scaling, put_policy = scaling.register()
        not_scaled = failed.failure(
            self,
            "ProdScalingNotRegistered",
            "RecordFailed",
            sfn.JsonPath.format(
                f"{endpoint} serves the new package (recorded) but registering its autoscaling failed: {{}}",
                error_cause(),
            ),
        )
        for state in (register_scaling, put_policy):
            state.add_catch(not_scaled, **catch_all())
        notify = tasks.SnsPublish(
            self,
            "NotifyReleased",
            topic=targets.alerts_topic,
            subject=f"{targets.names.prefix}: model released to prod",
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    f"{{}} now serves package {{}} (version {{}}, mode {{}}, by {{}}); before it served endpoint "
                    f"config {{}}. History: make releases ENV={targets.names.env}. Rollback: make rollback "
                    f"ENV={targets.names.env} [VERSION=n]",
                    endpoint,
                    sfn.JsonPath.string_at("$.model_package_arn"),
                    sfn.JsonPath.string_at("$.package.version"),
                    sfn.JsonPath.string_at("$.mode"),
                    sfn.JsonPath.string_at("$.actor"),
                    sfn.JsonPath.string_at("$.prod_previous.EndpointConfigName"),
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        # Prod already serves and the release is recorded: a throttled announcement is retried, not failed over.
        notify.add_retry(errors=[sfn.Errors.TASKS_FAILED], max_attempts=3)
        recorded = record_release(self, "prod", targets, failed)
        recorded.next(register_scaling).next(put_policy).next(notify).next(sfn.Succeed(self, "Released"))
        self._start = recorded.start_state
