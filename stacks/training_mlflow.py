"""Phase 03 (seed 004): MLflow tracking in AWS, an MLflow app or a tracking server as `[mlflow] tracking` says, with
its own role on the artifact store, and what the training job may do there.

Used by stacks/training.py. docs/03-sagemaker-pipeline.md, "Tracking architecture", compares the two kinds (billing,
IAM) and says why both environments run an app; "MLflow access" is the table of who may do what.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from config import EnvironmentConfig
from constructs.grants import PolicyGrants
from stacks.foundation import Foundation

# An app authorizes every MLflow REST call as this one action on the app (Service Authorization Reference,
# "Amazon SageMaker AI", resource type mlflow-app): logging cannot be granted without deleting.
MLFLOW_APP_ACTION = "sagemaker:CallMlflowAppApi"
# A tracking server authorizes each REST call as its own action: exactly the calls ml/tracking.py makes
# (set_experiment: GetExperimentByName, CreateExperiment; start_run: CreateRun; log_params/log_metrics: LogBatch;
# log_dict: GetRun for the run's artifact location; end of the run: UpdateRun). The access model derives the same
# list from the code (scripts/access_model/extra_permissions.toml [mlflow]) and a test compares them.
MLFLOW_SERVER_LOGGING_ACTIONS = [
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:CreateRun",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:GetRun",
    "sagemaker-mlflow:LogBatch",
    "sagemaker-mlflow:UpdateRun",
]
MAINTENANCE_WINDOW = "Sun:03:00"  # UTC; nothing trains then (the retraining schedule runs on Monday mornings)
ARTIFACT_STORE_REASON = (
    "MLflow writes one object per logged artifact under the mlflow/ prefix of the artifacts bucket "
    "(<experiment id>/<run id>/artifacts/<file>); the names exist only at run time, so the prefix is the narrowest."
)


@dataclass(frozen=True)
class MlflowTracking:
    """The tracking service the training job logs to."""

    kind: str  # "app" | "server"
    arn: str  # MLFLOW_TRACKING_URI of the training job (the sagemaker-mlflow plugin resolves both kinds)
    resource: CfnResource


def mlflow_tracking(stack: Stack, config: EnvironmentConfig, foundation: Foundation) -> MlflowTracking | None:
    """The environment's MLflow app or tracking server and its role, or None with `tracking = "none"`."""
    kind = config.mlflow.tracking
    if kind == "none":
        return None
    names = config.names
    bucket = foundation.artifacts_bucket
    store = f"s3://{bucket.bucket_name}/{names.mlflow_artifacts_prefix}"
    role = iam.Role(
        stack,
        "MlflowRole",
        role_name=names.mlflow_role,
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=names.description(f"the MLflow {kind}'s access to its artifact store"),
    )
    policy = iam.Policy(stack, "MlflowPolicy", roles=[role])
    store_objects = f"{bucket.bucket_arn}/{names.mlflow_artifacts_prefix}/*"
    PolicyGrants(policy).add(
        iam.PolicyStatement(
            sid="ArtifactStore",
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[store_objects],
        ),
        iam.PolicyStatement(
            sid="ListArtifactStore",
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{names.mlflow_artifacts_prefix}/*"]}},
        ),
        iam.PolicyStatement(sid="LocateArtifactStore", actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
        iam.PolicyStatement(
            sid="ArtifactEncryption", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[foundation.key.key_arn]
        ),
        because=ARTIFACT_STORE_REASON,
    )
    if kind == "app":
        app = sagemaker.CfnMlflowApp(
            stack,
            "MlflowApp",
            name=names.mlflow_app,
            artifact_store_uri=store,
            role_arn=role.role_arn,
            # SageMaker Model Registry is the registry of record; MLflow only tracks runs. Explicit: the API
            # reference and the CloudFormation schema do not state the same default.
            model_registration_mode="AutoModelRegistrationDisabled",
            weekly_maintenance_window_start=MAINTENANCE_WINDOW,
        )
        app.node.add_dependency(policy)
        return MlflowTracking("app", app.attr_arn, app)
    server = sagemaker.CfnMlflowTrackingServer(
        stack,
        "MlflowTrackingServer",
        tracking_server_name=names.mlflow_tracking_server,
        artifact_store_uri=store,
        role_arn=role.role_arn,
        tracking_server_size=config.mlflow.server_size,
        automatic_model_registration=False,
        weekly_maintenance_window_start=MAINTENANCE_WINDOW,
    )
    server.node.add_dependency(policy)
    return MlflowTracking("server", server.attr_tracking_server_arn, server)


def grant_mlflow_logging(
    grants: PolicyGrants, tracking: MlflowTracking, artifacts_bucket_arn: str, artifacts_prefix: str
) -> None:
    """What the training job needs to log its run: the tracking calls on this app or server only, and the upload
    of its artifacts straight to the artifact store (the MLflow client writes to S3 with the job's credentials)."""
    actions = [MLFLOW_APP_ACTION] if tracking.kind == "app" else MLFLOW_SERVER_LOGGING_ACTIONS
    grants.add(iam.PolicyStatement(sid="LogToMlflow", actions=actions, resources=[tracking.arn]))
    grants.add(
        iam.PolicyStatement(
            sid="WriteMlflowArtifacts",
            actions=["s3:PutObject"],
            resources=[f"{artifacts_bucket_arn}/{artifacts_prefix}/*"],
        ),
        because=ARTIFACT_STORE_REASON,
    )
