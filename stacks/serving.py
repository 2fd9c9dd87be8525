"""Phase 04: everything durable around the endpoints.

The endpoints themselves (and their models and endpoint configs) are runtime resources: the promotion workflow
(stacks/orchestration.py) creates them from an approved model package. This stack owns what must exist before and
after any rollout: the role endpoints run as, the guard alarms a prod rollout watches, the data capture location and
the parameters recording which package each endpoint serves (the rollback command reads them).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm

from config import EnvironmentConfig
from config.names import NO_PACKAGE, STAGES, VARIANT_NAME
from constructs import Construct
from constructs.compliance import acknowledge, acknowledge_resolved
from constructs.sklearn_image import ecr_repository_arn, sklearn_image_uri
from stacks.foundation import Foundation


@dataclass(frozen=True)
class Serving:
    """What the orchestration stack and the operator CLI need from the serving stack."""

    endpoint_role: iam.IRole
    endpoint_names: dict[str, str]  # stage -> endpoint name
    guard_alarm_names: tuple[str, ...]  # alarms that roll a prod rollout back
    data_capture_uri: str
    current_package_parameters: dict[str, ssm.IStringParameter]  # stage -> package ARN it serves
    previous_package_parameter: ssm.IStringParameter  # prod's previously served package (rollback target)


class ServingStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, foundation: Foundation, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = config.serving
        env_names = config.names
        names = env_names.endpoints
        capture_prefix = env_names.data_capture_prefix

        role = iam.Role(
            self,
            "EndpointRole",
            role_name=env_names.endpoint_role,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=env_names.description("runs the models behind the titanic endpoints"),
        )
        policy = iam.Policy(
            self,
            "EndpointPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="PullTheScikitLearnServingImage",
                    actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    resources=[ecr_repository_arn(sklearn_image_uri(config.region), self.partition)],
                ),
                iam.PolicyStatement(sid="AuthenticateToEcr", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(
                    sid="ReadModelArtifacts",
                    actions=["s3:GetObject"],
                    resources=[foundation.artifacts_bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="WriteDataCapture",
                    actions=["s3:PutObject"],
                    resources=[foundation.artifacts_bucket.arn_for_objects(f"{capture_prefix}/*")],
                ),
                iam.PolicyStatement(
                    sid="UseTheEnvironmentKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    resources=[foundation.key.key_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteEndpointLogs",
                    actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[
                        self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=env_names.endpoint_log_groups,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                ),
                iam.PolicyStatement(
                    sid="PublishEndpointMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "AWS/SageMaker"]}},
                ),
            ],
        )
        policy.attach_to_role(role)
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions (AWS service "
            "authorization reference); PutMetricData is limited to the SageMaker namespaces by condition",
        )
        # The bucket ARN is another stack's export; its rendering in the finding id exists only once references
        # are resolved, so these two acknowledgments are added then (see acknowledge_resolved).
        acknowledge_resolved(
            policy,
            foundation.artifacts_bucket.bucket_arn,
            "/*",
            "model.tar.gz keys are chosen by the SageMaker pipeline run (one prefix per execution); the role reads "
            "objects only (s3:GetObject) of the environment's own artifacts bucket",
        )
        acknowledge_resolved(
            policy,
            foundation.artifacts_bucket.bucket_arn,
            f"/{capture_prefix}/*",
            "SageMaker data capture writes one object per captured request under endpoint/variant/date keys it "
            "chooses; the role may only put objects below this environment's data-capture prefix",
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{config.region}:<AWS::AccountId>:log-group:"
            f"{env_names.endpoint_log_groups}]",
            "SageMaker names each endpoint's log group /aws/sagemaker/Endpoints/<endpoint>; the wildcard covers only "
            "this environment's titanic endpoints",
        )

        # Guard alarms on the prod endpoint's variant: any one in ALARM during a blue/green rollout rolls it back.
        dimensions = {"EndpointName": names["prod"], "VariantName": VARIANT_NAME}
        guards = {
            "5xx": ("Invocation5XXErrors", "Sum", settings.max_5xx_per_minute, "HTTP 5xx responses"),
            "model-errors": ("InvocationModelErrors", "Sum", settings.max_model_errors_per_minute, "model errors"),
            # ModelLatency is reported in microseconds.
            "model-latency": ("ModelLatency", "Average", settings.max_model_latency_ms * 1000, "model latency (us)"),
        }
        alarm_names = []
        for suffix, (metric_name, statistic, threshold, what) in guards.items():
            alarm = cloudwatch.Alarm(
                self,
                f"Guard{metric_name}",
                alarm_name=env_names.guard_alarm(suffix),
                alarm_description=f"{names['prod']}: {what} at or above {threshold} per minute; rolls a rollout back",
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
            alarm_names.append(env_names.guard_alarm(suffix))  # plain names: no cross-stack export

        current = {
            stage: ssm.StringParameter(
                self,
                f"{stage.capitalize()}CurrentPackage",
                parameter_name=env_names.release_parameter(stage, "current"),
                string_value=NO_PACKAGE,
                description=f"model package ARN that {names[stage]} serves (written by the promotion workflow)",
            )
            for stage in STAGES
        }
        previous = ssm.StringParameter(
            self,
            "ProdPreviousPackage",
            parameter_name=env_names.release_parameter("prod", "previous"),
            string_value=NO_PACKAGE,
            description=f"model package ARN that {names['prod']} served before its current one (rollback target)",
        )

        self.outputs = Serving(
            endpoint_role=role,
            endpoint_names=names,
            guard_alarm_names=tuple(alarm_names),
            data_capture_uri=f"s3://{foundation.artifacts_bucket.bucket_name}/{capture_prefix}",
            current_package_parameters=current,
            previous_package_parameter=previous,
        )
