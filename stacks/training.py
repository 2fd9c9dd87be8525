"""Phase 03: the SageMaker training pipeline, its model package group, its execution role, MLflow tracking and the
registry audit log.

The pipeline definition is built by stacks/training_pipeline_definition.py at synth time, offline; this stack only
fills its `${...}` placeholders with CloudFormation values (Fn::Sub) and grants the role exactly what the steps use
(stacks/training_access.py; MLflow in stacks/training_mlflow.py). The steps run the ml/ scripts of phase 02 from a
code bundle (constructs/code_bundle.py). The registry audit (stacks/training_audit.py) records every change of the
model package group and every release execution.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from config import EnvironmentConfig
from config.names import Names
from config.paths import PROJECT_ROOT
from constructs import Construct
from constructs.code_bundle import CodeBundle, collect
from constructs.grants import PolicyGrants
from constructs.sklearn_image import sklearn_image_uri
from stacks.foundation import Foundation
from stacks.pipeline_definition_cache import pipeline_definition
from stacks.training_access import PipelineAccess, grant_pipeline_execution
from stacks.training_audit import registry_audit
from stacks.training_mlflow import MlflowTracking, grant_mlflow_logging, mlflow_tracking
from stacks.training_pipeline_contract import INPUT_DATA_PARAMETER, SERVING_ENTRY_MODULE, DefinitionSettings

# The MLflow client the training job installs when the environment tracks runs in AWS (Python 3.9 container).
TRAINING_REQUIREMENTS = PROJECT_ROOT / "ml" / "requirements-training.txt"
SERVING_ENTRY_SOURCE = Path(__file__).resolve().parent / "bundle_root" / SERVING_ENTRY_MODULE
# ml/local/ is the local runner (MLflow store, HTTP server): it never runs in a SageMaker container.
BUNDLE_EXCLUDED_FOLDERS = ("local",)


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
        names = config.names
        bundle, training_bundle = self._code_bundles(with_mlflow_client=config.mlflow.tracking != "none")
        group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=names.model_package_group,
            model_package_group_description=names.description(f"models registered by {names.pipeline}"),
            model_package_group_policy=self._cross_account_read_policy(config),
        )
        role, policy, tracking = self._execution_role(
            config, foundation, input_bucket, input_data_key, bundle, training_bundle
        )
        settings = self._definition_settings(config, bundle, training_bundle, input_data_key, tracking is not None)
        definition = pipeline_definition(settings)
        pipeline = self._pipeline(names, definition, role, foundation, input_bucket, bundle, tracking)
        # The first execution must find the role's permissions and the group it registers into.
        pipeline.node.add_dependency(policy, group)
        self.audit = registry_audit(self, config, foundation)

        self.definition = definition
        self.definition_settings = settings  # tests rebuild the definition from these, bypassing the cache
        self.code_bundle = bundle
        self.outputs = TrainingPipeline(
            pipeline_name=names.pipeline,
            pipeline_arn=self.format_arn(service="sagemaker", resource="pipeline", resource_name=names.pipeline),
            model_package_group_name=names.model_package_group,
            model_package_group_arn=self._group_arn(names),
            execution_role=role,
        )

    def _execution_role(
        self,
        config: EnvironmentConfig,
        foundation: Foundation,
        input_bucket: s3.IBucket,
        input_data_key: str,
        bundle: CodeBundle,
        training_bundle: CodeBundle,
    ) -> tuple[iam.Role, iam.Policy, MlflowTracking | None]:
        """The role the pipeline and its jobs run as, granted exactly what the steps use (and MLflow when on)."""
        names = config.names
        role = iam.Role(
            self,
            "ExecutionRole",
            role_name=names.execution_role,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=names.description(f"runs the {names.pipeline} pipeline and its jobs"),
        )
        policy = iam.Policy(self, "ExecutionPolicy", roles=[role])
        tracking = mlflow_tracking(self, config, foundation)
        if tracking is not None:
            grant_mlflow_logging(
                PolicyGrants(policy), tracking, foundation.artifacts_bucket.bucket_arn, names.mlflow_artifacts_prefix
            )
        grant_pipeline_execution(
            self,
            policy,
            PipelineAccess(
                role=role,
                key_arn=foundation.key.key_arn,
                input_bucket_arn=input_bucket.bucket_arn,
                input_prefix=posixpath.dirname(input_data_key),
                artifacts_bucket_arn=foundation.artifacts_bucket.bucket_arn,
                artifacts_prefix=names.pipeline_artifacts_prefix,
                bundle=bundle,
                training_bundle=training_bundle,
                image_uri=sklearn_image_uri(config.region),
                group_arn=self._group_arn(names),
                packages_arn=self._packages_arn(names),
            ),
        )
        return role, policy, tracking

    def _pipeline(
        self,
        names: Names,
        definition: str,
        role: iam.Role,
        foundation: Foundation,
        input_bucket: s3.IBucket,
        bundle: CodeBundle,
        tracking: MlflowTracking | None,
    ) -> sagemaker.CfnPipeline:
        """The pipeline, its definition's ${...} placeholders filled by CloudFormation (Fn::Sub)."""
        variables = {
            "ArtifactsBucket": foundation.artifacts_bucket.bucket_name,
            "CodeBucket": bundle.bucket_name,
            "InputBucket": input_bucket.bucket_name,
            "ExecutionRoleName": role.role_name,
            "KmsKeyArn": foundation.key.key_arn,
        }
        if tracking is not None:
            variables["MlflowTrackingArn"] = tracking.arn
        pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=names.pipeline,
            pipeline_display_name=names.pipeline,
            pipeline_description=names.description("preprocess, train, evaluate, gate, register"),
            role_arn=role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": Fn.sub(definition, variables)},
        )
        return pipeline

    def _code_bundles(self, *, with_mlflow_client: bool) -> tuple[CodeBundle, CodeBundle]:
        """The bundle every step unpacks, and the training job's (the same, with MLflow tracking plus a root
        requirements.txt the training toolkit installs; the serving container never sees it, it must not need PyPI)."""
        bundle = CodeBundle(self, "CodeBundle", files=code_bundle_files())
        if not with_mlflow_client:
            return bundle, bundle
        training_files = {**code_bundle_files(), "requirements.txt": TRAINING_REQUIREMENTS}
        return bundle, CodeBundle(self, "TrainingCodeBundle", files=training_files)

    def _group_arn(self, names: Names) -> str:
        return self.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=names.model_package_group
        )

    def _packages_arn(self, names: Names) -> str:
        return self.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{names.model_package_group}/*"
        )

    def _definition_settings(
        self,
        config: EnvironmentConfig,
        bundle: CodeBundle,
        training_bundle: CodeBundle,
        input_data_key: str,
        with_mlflow: bool,
    ) -> DefinitionSettings:
        settings, names = config.training, config.names
        return DefinitionSettings(
            pipeline_name=names.pipeline,
            region=config.region,
            model_package_group_name=names.model_package_group,
            code_bundle_key=bundle.object_key,
            training_code_bundle_key=training_bundle.object_key,
            input_data_key=input_data_key,
            artifacts_prefix=names.pipeline_artifacts_prefix,
            quality_metric=config.ml.quality_metric,
            quality_threshold=config.ml.quality_threshold,
            baseline_margin=config.ml.baseline_margin,
            processing_instance_type=settings.processing_instance_type,
            processing_instance_count=settings.processing_instance_count,
            training_instance_type=settings.training_instance_type,
            preprocess_seed=settings.preprocess_seed,
            hyperparameters=settings.hyperparameters,
            # With MLflow tracking, ml/train.py logs its run with these tags (seed 004 conventions).
            mlflow_run_tags=(
                {"env": config.name, "purpose": "sagemaker-pipeline", "owner": config.owner} if with_mlflow else None
            ),
        )

    def _cross_account_read_policy(self, config: EnvironmentConfig) -> dict | None:
        """Lets the prod account read this group's model packages, only when prod is another account."""
        reader = config.training.prod_account_id
        if reader is None or reader == config.account:
            return None
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
                    resources=[self._group_arn(config.names), self._packages_arn(config.names)],
                )
            ]
        ).to_json()
