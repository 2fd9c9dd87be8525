"""Phase 04 (serving): everything durable around the endpoints. The endpoints are not in this stack.

The endpoints themselves (and their models and endpoint configs) are runtime resources: the promotion workflow
(constructs/promotion/, deployed by the phase 06 stack stacks/orchestration.py) creates them from an approved model
package, so CloudFormation never replaces a serving endpoint and the rollback command can redeploy any earlier
package. This stack owns what must exist before and after any rollout: the role endpoints run as, the guard alarms a
prod rollout watches, the data capture location and the release records table (one item per time a stage starts
serving a package, written by the workflow, read by the rollback command; CloudFormation owns the table, never its
items). Phase 04 in one list: this stack, constructs/promotion/, lambdas/smoke_test/,
ml/inference.py and ml/smoke.py, scripts/release.py (README phase map).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from config import EnvironmentConfig
from config.names import VARIANT_NAME, Names
from config.resource_names import with_runbook
from config.sections import ServingSettings
from constructs import Construct
from constructs.grants import PolicyGrants, ecr_pull_statements
from constructs.retention import removal_policy
from constructs.sklearn_image import ecr_repository_arn, sklearn_image_uri
from stacks.foundation import Foundation

NO_RESOURCE_LEVEL_PERMISSIONS = (
    "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions (AWS service "
    "authorization reference); PutMetricData is limited to the SageMaker namespaces by condition"
)


@dataclass(frozen=True)
class Serving:
    """What the orchestration stack and the operator CLI need from the serving stack."""

    endpoint_role: iam.IRole
    endpoint_names: dict[str, str]  # stage -> endpoint name
    guard_alarm_names: tuple[str, ...]  # alarms that roll a prod rollout back
    data_capture_uri: str
    releases_table: dynamodb.ITable  # release records (docs/04, "Release history")


class ServingStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, foundation: Foundation, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names = config.names
        role = self._endpoint_role(config.region, names, foundation)
        guard_alarm_names = self._guard_alarms(names, config.serving, foundation)
        self.outputs = Serving(
            endpoint_role=role,
            endpoint_names=names.endpoints,
            guard_alarm_names=guard_alarm_names,
            data_capture_uri=f"s3://{foundation.artifacts_bucket.bucket_name}/{names.data_capture_prefix}",
            releases_table=self._release_records(names, foundation, config.destroy_on_delete),
        )

    def _endpoint_role(self, region: str, names: Names, foundation: Foundation) -> iam.Role:
        """What the model containers behind the endpoints may do: pull the image, read the model, capture data."""
        role = iam.Role(
            self,
            "EndpointRole",
            role_name=names.endpoint_role,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=names.description("runs the models behind the titanic endpoints"),
        )
        policy = iam.Policy(self, "EndpointPolicy")
        grants = PolicyGrants(policy)
        artifacts = foundation.artifacts_bucket
        grants.add(
            *ecr_pull_statements(
                ecr_repository_arn(sklearn_image_uri(region), self.partition),
                pull_sid="PullTheScikitLearnServingImage",
                login_sid="AuthenticateToEcr",
            ),
            because=NO_RESOURCE_LEVEL_PERMISSIONS,
        )
        model_keys, code_keys = (
            artifacts.arn_for_objects(names.model_artifact_keys),
            artifacts.arn_for_objects(names.serving_code_keys),
        )
        grants.add(
            iam.PolicyStatement(sid="ReadModelArtifacts", actions=["s3:GetObject"], resources=[model_keys, code_keys]),
            because={
                model_keys: "model.tar.gz keys are chosen per pipeline execution (<execution id>/model/<job>/output/); "
                "the role reads only the model folders of this environment's pipeline, not MLflow runs or captures",
                code_keys: "the code bundle each registered package serves with is copied per pipeline execution "
                "(<execution id>/serving-code/); the role reads only those folders",
            },
        )
        grants.add(
            iam.PolicyStatement(
                sid="WriteDataCapture",
                actions=["s3:PutObject"],
                resources=[artifacts.arn_for_objects(f"{names.data_capture_prefix}/*")],
            ),
            because="SageMaker data capture writes one object per captured request under endpoint/variant/date keys "
            "it chooses; the role may only put objects below this environment's data-capture prefix",
        )
        grants.add(
            iam.PolicyStatement(
                sid="UseTheEnvironmentKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[foundation.key.key_arn],
            )
        )
        grants.add(
            iam.PolicyStatement(
                sid="WriteEndpointLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    self.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=names.endpoint_log_groups,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
            because="SageMaker names each endpoint's log group /aws/sagemaker/Endpoints/<endpoint>; the wildcard "
            "covers only this environment's titanic endpoints",
        )
        grants.add(
            iam.PolicyStatement(
                sid="PublishEndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "AWS/SageMaker"]}},
            ),
            because=NO_RESOURCE_LEVEL_PERMISSIONS,
        )
        policy.attach_to_role(role)
        return role

    def _guard_alarms(self, names: Names, settings: ServingSettings, foundation: Foundation) -> tuple[str, ...]:
        """Alarms on the prod endpoint's variant: any one in ALARM during a blue/green rollout rolls it back."""
        prod = names.endpoint("prod")
        dimensions = {"EndpointName": prod, "VariantName": VARIANT_NAME}
        guards = {
            "5xx": ("Invocation5XXErrors", "Sum", settings.max_5xx_per_minute, "HTTP 5xx responses"),
            "model-errors": ("InvocationModelErrors", "Sum", settings.max_model_errors_per_minute, "model errors"),
            # ModelLatency is reported in microseconds.
            "model-latency": ("ModelLatency", "Average", settings.max_model_latency_ms * 1000, "model latency (us)"),
        }
        for suffix, (metric_name, statistic, threshold, what) in guards.items():
            alarm = cloudwatch.Alarm(
                self,
                f"Guard{metric_name}",
                alarm_name=names.guard_alarm(suffix),
                alarm_description=with_runbook(
                    f"{prod}: {what} at or above {threshold} per minute; rolls a rollout back", "endpoint-errors"
                ),
                metric=cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name=metric_name,
                    dimensions_map=dimensions,
                    statistic=statistic,
                    period=Duration.minutes(1),
                ),
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(foundation.alerts_topic))
        return tuple(names.guard_alarm(suffix) for suffix in guards)  # plain names: no cross-stack export

    def _release_records(self, names: Names, foundation: Foundation, destroy_on_delete: bool) -> dynamodb.Table:
        """One item per time a stage starts serving a package (written by the promotion workflow): partition key
        `stage`, sort key `released_at` (ISO-8601 UTC), so a stage's history reads newest first with one Query."""
        return dynamodb.Table(
            self,
            "ReleaseRecords",
            table_name=names.releases_table,
            partition_key=dynamodb.Attribute(name="stage", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="released_at", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=foundation.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=not destroy_on_delete,
            removal_policy=removal_policy(destroy_on_delete),
        )
