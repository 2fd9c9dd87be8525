"""Phase 03: the SageMaker training pipeline, its model package group, its execution role and (optionally) MLflow.

The pipeline definition is built by stacks/training_pipeline_definition.py at synth time, offline; this stack only
fills its `${...}` placeholders with CloudFormation values (Fn::Sub) and grants the role exactly what the steps use.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from config import EnvironmentConfig
from constructs import Construct
from constructs.code_bundle import CodeBundle, collect
from constructs.compliance import acknowledge, acknowledge_resolved
from constructs.sklearn_image import ecr_repository_arn, sklearn_image_uri
from stacks.foundation import Foundation
from stacks.training_pipeline_definition import (
    INPUT_DATA_PARAMETER,
    SERVING_ENTRY_MODULE,
    DefinitionSettings,
    build_definition,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The MLflow client the training job installs when the environment has a tracking server (Python 3.9 container).
TRAINING_REQUIREMENTS = Path(__file__).resolve().parent.parent / "ml" / "requirements-training.txt"
SERVING_ENTRY_SOURCE = Path(__file__).resolve().parent / "bundle_root" / SERVING_ENTRY_MODULE
# ml/local/ is the local runner (MLflow store, HTTP server): it never runs in a SageMaker container.
BUNDLE_EXCLUDED_FOLDERS = ("local",)

# SageMaker Pipelines name the jobs it starts "pipelines-<execution id>-<step>-<suffix>".
PIPELINE_JOB_PREFIX = "pipelines-"

# Actions a training job needs to log runs to a SageMaker-managed MLflow tracking server.
MLFLOW_LOGGING_ACTIONS = [
    "sagemaker-mlflow:AccessUI",
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:SearchExperiments",
    "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:CreateRun",
    "sagemaker-mlflow:UpdateRun",
    "sagemaker-mlflow:GetRun",
    "sagemaker-mlflow:LogMetric",
    "sagemaker-mlflow:LogParam",
    "sagemaker-mlflow:LogBatch",
    "sagemaker-mlflow:LogInputs",
    "sagemaker-mlflow:LogModel",
    "sagemaker-mlflow:SetTag",
]


@dataclass(frozen=True)
class TrainingPipeline:
    """What later stacks (serving, orchestration) receive from the training stack."""

    pipeline_name: str
    pipeline_arn: str
    model_package_group_name: str
    model_package_group_arn: str
    execution_role: iam.IRole
    input_data_parameter: str = INPUT_DATA_PARAMETER  # pipeline parameter with the S3 URI of the CSV to train on


def code_bundle_files() -> dict[str, Path]:
    """The bundle SageMaker unpacks: the ml/ package as a folder plus the serving entry module at its root."""
    files = collect(PROJECT_ROOT, "ml", exclude=BUNDLE_EXCLUDED_FOLDERS)
    files[SERVING_ENTRY_MODULE] = SERVING_ENTRY_SOURCE
    return files


class TrainingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        foundation: Foundation,
        input_bucket: s3.IBucket,
        input_data_key: str,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = config.training
        pipeline_name = f"{config.prefix}-training"
        group_name = f"{config.prefix}-models"
        artifacts_prefix = f"pipelines/{pipeline_name}"
        image = sklearn_image_uri(config.region)

        bundle = CodeBundle(self, "CodeBundle", files=code_bundle_files())
        # With MLflow on, the training job alone installs an MLflow client: its bundle adds a root requirements.txt,
        # which the training toolkit installs. The serving container never sees it (it must not need PyPI).
        training_bundle = (
            CodeBundle(
                self,
                "TrainingCodeBundle",
                files={**code_bundle_files(), "requirements.txt": TRAINING_REQUIREMENTS},
            )
            if settings.mlflow_tracking_server
            else bundle
        )

        group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=group_name,
            model_package_group_description=f"titanic-sagemaker {config.name}: models registered by {pipeline_name}",
            model_package_group_policy=self._cross_account_read_policy(config, group_name),
        )
        group_arn = self.format_arn(service="sagemaker", resource="model-package-group", resource_name=group_name)
        packages_arn = self.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group_name}/*")

        role = iam.Role(
            self,
            "ExecutionRole",
            role_name=f"{config.prefix}-sagemaker-execution",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"titanic-sagemaker {config.name}: runs the {pipeline_name} pipeline and its jobs",
        )
        policy = iam.Policy(self, "ExecutionPolicy", roles=[role])

        artifacts_bucket_arn = foundation.artifacts_bucket.bucket_arn
        tracking_server = None
        if settings.mlflow_tracking_server:
            tracking_server = self._mlflow_tracking_server(config, foundation, artifacts_bucket_arn)
            policy.add_statements(
                iam.PolicyStatement(
                    sid="LogToMlflow",
                    actions=MLFLOW_LOGGING_ACTIONS,
                    resources=[tracking_server.attr_tracking_server_arn],
                )
            )

        input_prefix = posixpath.dirname(input_data_key)
        self._grant_execution(
            policy,
            role=role,
            foundation=foundation,
            group_name=group_name,
            input_bucket_arn=input_bucket.bucket_arn,
            artifacts_bucket_arn=artifacts_bucket_arn,
            input_prefix=input_prefix,
            artifacts_prefix=artifacts_prefix,
            bundle=bundle,
            training_bundle=training_bundle,
            image=image,
            group_arn=group_arn,
            packages_arn=packages_arn,
        )

        definition = build_definition(
            DefinitionSettings(
                pipeline_name=pipeline_name,
                region=config.region,
                model_package_group_name=group_name,
                code_bundle_key=bundle.object_key,
                training_code_bundle_key=training_bundle.object_key,
                input_data_key=input_data_key,
                artifacts_prefix=artifacts_prefix,
                quality_metric=config.ml.quality_metric,
                quality_threshold=config.ml.quality_threshold,
                processing_instance_type=settings.processing_instance_type,
                processing_instance_count=settings.processing_instance_count,
                training_instance_type=settings.training_instance_type,
                preprocess_seed=settings.preprocess_seed,
                hyperparameters=settings.hyperparameters,
                mlflow_run_tags=(
                    {"env": config.name, "purpose": "sagemaker-pipeline", "owner": config.owner}
                    if tracking_server is not None
                    else None
                ),
            )
        )
        variables = {
            "ArtifactsBucket": foundation.artifacts_bucket.bucket_name,
            "CodeBucket": bundle.bucket_name,
            "InputBucket": input_bucket.bucket_name,
            "ExecutionRoleName": role.role_name,
            "KmsKeyArn": foundation.key.key_arn,
        }
        if tracking_server is not None:
            variables["MlflowTrackingServerArn"] = tracking_server.attr_tracking_server_arn
        pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_display_name=pipeline_name,
            pipeline_description=f"titanic-sagemaker {config.name}: preprocess, train, evaluate, gate, register",
            role_arn=role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": Fn.sub(definition, variables)},
        )
        # The first execution must find the role's permissions and the group it registers into.
        pipeline.node.add_dependency(policy, group)

        self.definition = definition
        self.code_bundle = bundle
        self.outputs = TrainingPipeline(
            pipeline_name=pipeline_name,
            pipeline_arn=self.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name),
            model_package_group_name=group_name,
            model_package_group_arn=group_arn,
            execution_role=role,
        )

    def _cross_account_read_policy(self, config: EnvironmentConfig, group_name: str) -> dict | None:
        """Lets the prod account read this group's model packages, only when prod is another account."""
        reader = config.training.prod_account_id
        if reader is None or reader == config.account:
            return None
        group_arn = self.format_arn(service="sagemaker", resource="model-package-group", resource_name=group_name)
        packages_arn = self.format_arn(service="sagemaker", resource="model-package", resource_name=f"{group_name}/*")
        return iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="ProdAccountReadsModelPackages",
                    principals=[iam.AccountPrincipal(reader)],
                    actions=[
                        "sagemaker:DescribeModelPackageGroup",
                        "sagemaker:ListModelPackages",
                        "sagemaker:DescribeModelPackage",
                    ],
                    resources=[group_arn, packages_arn],
                )
            ]
        ).to_json()

    def _mlflow_tracking_server(self, config: EnvironmentConfig, foundation: Foundation, bucket_arn: str):
        prefix = "mlflow"
        role = iam.Role(
            self,
            "MlflowRole",
            role_name=f"{config.prefix}-mlflow",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"titanic-sagemaker {config.name}: the MLflow tracking server's access to its artifact store",
        )
        bucket = foundation.artifacts_bucket
        mlflow_policy = iam.Policy(
            self,
            "MlflowPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ArtifactStore",
                    actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    resources=[f"{bucket_arn}/{prefix}/*"],
                ),
                iam.PolicyStatement(
                    sid="ListArtifactStore",
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
                ),
                iam.PolicyStatement(
                    sid="ArtifactEncryption",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[foundation.key.key_arn],
                ),
            ],
        )
        acknowledge_resolved(
            mlflow_policy,
            foundation.artifacts_bucket.bucket_arn,
            f"/{prefix}/*",
            "The tracking server stores one object per logged artifact under the mlflow/ prefix of the artifacts "
            "bucket; object names are created at run time, so the prefix is the narrowest resource.",
        )
        server = sagemaker.CfnMlflowTrackingServer(
            self,
            "MlflowTrackingServer",
            tracking_server_name=f"{config.prefix}-mlflow",
            artifact_store_uri=f"s3://{bucket.bucket_name}/{prefix}",
            role_arn=role.role_arn,
            tracking_server_size=config.training.mlflow_tracking_server_size,
            # SageMaker Model Registry is the registry of record; MLflow only tracks runs.
            automatic_model_registration=False,
        )
        server.node.add_dependency(mlflow_policy)
        return server

    def _grant_execution(
        self,
        policy: iam.Policy,
        *,
        role: iam.Role,
        foundation: Foundation,
        group_name: str,
        input_bucket_arn: str,
        artifacts_bucket_arn: str,
        input_prefix: str,
        artifacts_prefix: str,
        bundle: CodeBundle,
        training_bundle: CodeBundle,
        image: str,
        group_arn: str,
        packages_arn: str,
    ) -> None:
        """Exactly what the pipeline and its jobs do, each statement scoped to its resources."""
        repository_arn = ecr_repository_arn(image, self.partition)
        job_arns = {
            kind: self.format_arn(service="sagemaker", resource=kind, resource_name=f"{PIPELINE_JOB_PREFIX}*")
            for kind in ("processing-job", "training-job")
        }
        log_groups = [
            self.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/sagemaker/{kind}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for kind in ("ProcessingJobs", "TrainingJobs")
        ]
        policy.add_statements(
            iam.PolicyStatement(
                sid="ReadInputData",
                actions=["s3:GetObject"],
                resources=[f"{input_bucket_arn}/{input_prefix}/*"],
            ),
            iam.PolicyStatement(
                sid="ListInputData",
                actions=["s3:ListBucket"],
                resources=[input_bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{input_prefix}/*"]}},
            ),
            iam.PolicyStatement(
                sid="ReadWritePipelineArtifacts",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[f"{artifacts_bucket_arn}/{artifacts_prefix}/*"],
            ),
            iam.PolicyStatement(
                sid="ListPipelineArtifacts",
                actions=["s3:ListBucket"],
                resources=[artifacts_bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{artifacts_prefix}/*"]}},
            ),
            iam.PolicyStatement(
                sid="ReadCodeBundle",
                actions=["s3:GetObject"],
                resources=sorted({bundle.object_arn, training_bundle.object_arn}),
            ),
            # A processing input is an S3 prefix: the job lists it before downloading the one object.
            iam.PolicyStatement(
                sid="ListCodeBundle",
                actions=["s3:ListBucket"],
                resources=[bundle.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": bundle.object_key}},
            ),
            iam.PolicyStatement(
                sid="EncryptWithTheEnvironmentKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[foundation.key.key_arn],
            ),
            iam.PolicyStatement(
                sid="EncryptJobVolumes",
                actions=["kms:CreateGrant"],
                resources=[foundation.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
            iam.PolicyStatement(
                sid="PullScikitLearnImage",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[repository_arn],
            ),
            iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                sid="WriteJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=log_groups,
            ),
            iam.PolicyStatement(
                sid="PublishJobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            ),
            iam.PolicyStatement(
                sid="RunPipelineJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=list(job_arns.values()),
            ),
            iam.PolicyStatement(
                sid="RegisterIntoItsGroupOnly",
                actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                resources=[packages_arn],
            ),
            iam.PolicyStatement(
                sid="ReadItsGroup", actions=["sagemaker:DescribeModelPackageGroup"], resources=[group_arn]
            ),
            iam.PolicyStatement(
                sid="PassItselfToSageMakerJobs",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        )
        # The buckets belong to other stacks: their findings are named after exports, known late (acknowledge_resolved).
        acknowledge_resolved(
            policy,
            input_bucket_arn,
            f"/{input_prefix}/*",
            "The pipeline's InputDataUri parameter may name any curated dataset object under this one prefix "
            "(a new dataset version is a new object); nothing outside the prefix is readable.",
        )
        acknowledge_resolved(
            policy,
            artifacts_bucket_arn,
            f"/{artifacts_prefix}/*",
            "Each execution writes splits, model and evaluation under its own execution-id folder of this "
            "pipeline's prefix; the object names exist only at run time.",
        )
        region_account = f"{self.region}:<AWS::AccountId>"
        for finding, reason in (
            (
                "*",
                "Two APIs without resource-level permissions: ecr:GetAuthorizationToken (ECR login, see the ECR "
                "authorization reference) and cloudwatch:PutMetricData, limited by the cloudwatch:namespace "
                "condition to SageMaker's /aws/sagemaker/* namespaces.",
            ),
            *(
                (
                    f"arn:<AWS::Partition>:logs:{region_account}:log-group:/aws/sagemaker/{kind}:*",
                    f"SageMaker writes every job's logs to the service-owned /aws/sagemaker/{kind} group, one "
                    "stream per job named at run time; the grant is limited to that group.",
                )
                for kind in ("ProcessingJobs", "TrainingJobs")
            ),
            *(
                (
                    f"arn:<AWS::Partition>:sagemaker:{region_account}:{kind}/{PIPELINE_JOB_PREFIX}*",
                    f"SageMaker Pipelines names each {kind} it starts '{PIPELINE_JOB_PREFIX}<execution id>-<step>-"
                    "<suffix>' at run time; the grant covers only pipeline-started jobs of this account and region.",
                )
                for kind in ("processing-job", "training-job")
            ),
            (
                f"arn:<AWS::Partition>:sagemaker:{region_account}:model-package/{group_name}/*",
                "Model package versions get their number at registration; the grant is limited to this "
                "environment's model package group.",
            ),
        ):
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{finding}]", reason)
