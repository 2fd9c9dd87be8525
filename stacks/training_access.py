"""Phase 03: what the training pipeline's execution role may do, each statement scoped to what one step touches and
paired with its cdk-nag reason (MLflow's statements are in stacks/training_mlflow.py).

Used by stacks/training.py. The statements are grouped by what they serve: the data (input and artifacts), the code
and image, the jobs themselves, the model registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam

from constructs.code_bundle import CodeBundle
from constructs.grants import PolicyGrants, ecr_pull_statements
from constructs.sklearn_image import ecr_repository_arn

# SageMaker Pipelines name the jobs it starts "pipelines-<execution id>-<step>-<suffix>".
PIPELINE_JOB_PREFIX = "pipelines-"
JOB_KINDS = {"processing-job": "ProcessingJobs", "training-job": "TrainingJobs"}  # ARN resource -> log group

NO_RESOURCE_LEVEL_PERMISSIONS = (
    "Two APIs without resource-level permissions: ecr:GetAuthorizationToken (ECR login, see the ECR authorization "
    "reference) and cloudwatch:PutMetricData, limited by the cloudwatch:namespace condition to SageMaker's "
    "/aws/sagemaker/* namespaces."
)


@dataclass(frozen=True)
class PipelineAccess:
    """What the pipeline's steps read and write."""

    role: iam.IRole
    key_arn: str
    input_bucket_arn: str
    input_prefix: str  # the curated datasets the InputDataUri parameter may name
    artifacts_bucket_arn: str
    artifacts_prefix: str  # every execution writes under <artifacts_prefix>/<execution id>/
    bundle: CodeBundle
    training_bundle: CodeBundle
    image_uri: str
    group_arn: str
    packages_arn: str


def grant_pipeline_execution(stack: Stack, policy: iam.Policy, access: PipelineAccess) -> None:
    """Exactly what the pipeline and its jobs do, in the order the statements appear in the policy."""
    grants = PolicyGrants(policy)
    _grant_data(grants, access)
    _grant_code_and_image(stack, grants, access)
    _grant_jobs(stack, grants, access)
    _grant_registry(grants, access)


def _grant_data(grants: PolicyGrants, access: PipelineAccess) -> None:
    grants.add(
        iam.PolicyStatement(
            sid="ReadInputData",
            actions=["s3:GetObject"],
            resources=[f"{access.input_bucket_arn}/{access.input_prefix}/*"],
        ),
        because="The pipeline's InputDataUri parameter may name any curated dataset object under this one prefix "
        "(a new dataset version is a new object); nothing outside the prefix is readable.",
    )
    grants.add(_list_prefix("ListInputData", access.input_bucket_arn, access.input_prefix))
    grants.add(
        iam.PolicyStatement(
            sid="ReadWritePipelineArtifacts",
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[f"{access.artifacts_bucket_arn}/{access.artifacts_prefix}/*"],
        ),
        because="Each execution writes splits, model and evaluation under its own execution-id folder of this "
        "pipeline's prefix; the object names exist only at run time.",
    )
    grants.add(_list_prefix("ListPipelineArtifacts", access.artifacts_bucket_arn, access.artifacts_prefix))


def _list_prefix(sid: str, bucket_arn: str, prefix: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        actions=["s3:ListBucket"],
        resources=[bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
    )


def _grant_code_and_image(stack: Stack, grants: PolicyGrants, access: PipelineAccess) -> None:
    bundle = access.bundle
    grants.add(
        iam.PolicyStatement(
            sid="ReadCodeBundle",
            actions=["s3:GetObject"],
            resources=sorted({bundle.object_arn, access.training_bundle.object_arn}),
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
            resources=[access.key_arn],
        ),
        iam.PolicyStatement(
            sid="EncryptJobVolumes",
            actions=["kms:CreateGrant"],
            resources=[access.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    )
    grants.add(
        *ecr_pull_statements(
            ecr_repository_arn(access.image_uri, stack.partition), pull_sid="PullScikitLearnImage", login_sid="EcrLogin"
        ),
        because=NO_RESOURCE_LEVEL_PERMISSIONS,
    )


def _grant_jobs(stack: Stack, grants: PolicyGrants, access: PipelineAccess) -> None:
    log_groups = {
        stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/{group}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        ): f"SageMaker writes every job's logs to the service-owned /aws/sagemaker/{group} group, one stream per job "
        "named at run time; the grant is limited to that group."
        for group in JOB_KINDS.values()
    }
    grants.add(
        iam.PolicyStatement(
            sid="WriteJobLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=list(log_groups),
        ),
        because=log_groups,
    )
    grants.add(
        iam.PolicyStatement(
            sid="PublishJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ),
        because=NO_RESOURCE_LEVEL_PERMISSIONS,
    )
    job_arns = {
        stack.format_arn(
            service="sagemaker", resource=kind, resource_name=f"{PIPELINE_JOB_PREFIX}*"
        ): f"SageMaker Pipelines names each {kind} it starts '{PIPELINE_JOB_PREFIX}<execution id>-<step>-<suffix>' "
        "at run time; the grant covers only pipeline-started jobs of this account and region."
        for kind in JOB_KINDS
    }
    grants.add(
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
            resources=list(job_arns),
        ),
        because=job_arns,
    )


def _grant_registry(grants: PolicyGrants, access: PipelineAccess) -> None:
    grants.add(
        iam.PolicyStatement(
            sid="RegisterIntoItsGroupOnly",
            actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
            resources=[access.packages_arn],
        ),
        because="Model package versions get their number at registration; the grant is limited to this "
        "environment's model package group.",
    )
    grants.add(
        iam.PolicyStatement(
            sid="ReadItsGroup", actions=["sagemaker:DescribeModelPackageGroup"], resources=[access.group_arn]
        ),
        iam.PolicyStatement(
            sid="PassItselfToSageMakerJobs",
            actions=["iam:PassRole"],
            resources=[access.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
    )
