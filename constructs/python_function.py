"""Phase 01 (also used by phase 04): a Python Lambda function with the project's safe defaults and the Powertools layer.

`PowertoolsFunction` arguments:
- `function_name`: full name (`titanic-<env>-<what>`); also names the log group `/aws/lambda/<function_name>`.
- `source`: folder under lambdas/ holding handler.py (entry point `handler.handler`) and its pinned requirements.txt.
- `shared_files`: project files the handler imports, packaged at the same relative path (for example
  `("ml/__init__.py", "ml/schema.py")` so the Lambda runs `from ml.schema import ...` exactly like local code).
  Nothing is copied into git: the asset is staged at synth by a deterministic local copy (no Docker).
- `description`, `environment`: as for any Lambda function; Powertools variables are added here.
- `key`: the environment's KMS key; encrypts the environment variables, the log group and the dead-letter queue.
- `log_retention_days`, `destroy_on_delete`: from the environment's configuration.
- `memory_size`, `timeout`: per function; `retry_attempts` for asynchronous invocations (0-2).
- `reserved_concurrency` or `no_reservation_reason`, exactly one: a cap on the function's parallel runs (and capacity
  kept for it), or why it needs none (written as the checkov CKV_AWS_115 skip). Lambda keeps 100 of the account's
  concurrency unreserved, so a reservation needs a quota of at least 100 + the reservations (new accounts start at 10
  and refuse any reservation until the quota is raised).

Defaults: Python 3.13 on ARM (Graviton), X-Ray active tracing, a dedicated role with no managed policy (only its own
log group, X-Ray, the environment key and what the caller adds), environment variables, log group and SQS
dead-letter queue (asynchronous invocations which still fail after the retries) encrypted with the environment key,
and no VPC (the checkov CKV_AWS_117 skip says why).
Callers grant further permissions on `role` with explicit statements (never `grant_*` helpers that add wildcards).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    CfnDynamicReference,
    CfnDynamicReferenceService,
    Duration,
    ILocalBundling,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from config.names import METRICS_NAMESPACE
from config.paths import PROJECT_ROOT
from config.resource_names import dead_letter_queue, lambda_log_group
from constructs import Construct
from constructs.compliance import acknowledge, skip_checkov
from constructs.retention import removal_policy, retained_log_group

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
# Powertools for AWS Lambda (Python): the version the tests run is the version deployed. requirements-dev.txt and each
# lambdas/*/requirements.txt pin exactly this (tests/infra/test_python_function.py checks), and the function's layer
# is the one Powertools published for this version: CloudFormation reads its ARN at deploy time from the public SSM
# parameter Powertools keeps per release, /aws/service/powertools/python/<arch>/<python>/<version> (Powertools docs,
# "Lambda Layer", SSM parameter). Layer numbers are not typed here: they count releases, not versions (layer 27 of
# python313 is Powertools 3.23.0, not the 3.37.0 the tests run).
POWERTOOLS_VERSION = "3.37.0"


def powertools_layer_parameter(version: str = POWERTOOLS_VERSION) -> str:
    """The public SSM parameter holding the ARN of Powertools' layer of `version` for RUNTIME on ARCHITECTURE."""
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


@jsii.implements(ILocalBundling)
class _CopyFiles:
    """Stages a Lambda asset by copying named files: deterministic (same files → same asset hash), no Docker."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self._files = dict(sorted(files.items()))

    def try_bundle(self, output_dir: str, _options: BundlingOptions) -> bool:
        for relative, source in self._files.items():
            target = Path(output_dir) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return True


def asset_files(source: str, shared_files: Sequence[str]) -> dict[str, Path]:
    """What the asset contains: the handler folder's .py and requirements.txt files, plus the shared project files."""
    folder = PROJECT_ROOT / source
    files = {path.name: path for path in folder.iterdir() if path.suffix == ".py" or path.name == "requirements.txt"}
    if "handler.py" not in files:
        raise ValueError(f"{source}/handler.py does not exist")
    for relative in shared_files:
        path = PROJECT_ROOT / relative
        if not path.is_file():
            raise ValueError(f"shared file {relative} does not exist")
        files[relative] = path
    return files


NO_VPC_REASON = (
    "No VPC by design: the project's functions call only AWS service APIs (HTTPS, signed with the function's own "
    "scoped role) and have no private network resource to reach. A VPC would add a NAT gateway or one interface "
    "endpoint per service (hourly cost per AZ) and ENIs, and isolate nothing IAM and the key/bucket policies do not."
)


class PowertoolsFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        source: str,
        description: str,
        key: kms.IKey,
        log_retention_days: int,
        destroy_on_delete: bool,
        environment: Mapping[str, str] | None = None,
        shared_files: Sequence[str] = (),
        memory_size: int = 256,
        timeout: Duration | None = None,
        retry_attempts: int = 2,
        reserved_concurrency: int | None = None,
        no_reservation_reason: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (reserved_concurrency is None) == (no_reservation_reason is None):
            raise ValueError(
                f"{function_name}: give reserved_concurrency (a cap on parallel runs) or no_reservation_reason (why "
                "it needs none: checkov CKV_AWS_115), exactly one"
            )
        self.log_group = retained_log_group(
            self,
            "Logs",
            name=lambda_log_group(function_name),
            retention_days=log_retention_days,
            destroy_on_delete=destroy_on_delete,
            key=key,
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=dead_letter_queue(function_name),
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            data_key_reuse=Duration.hours(1),
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy(destroy_on_delete),
        )
        self.role = self._role(function_name, key)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=self._code(source, shared_files),
            layers=[self._powertools_layer()],
            role=self.role,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(30),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            retry_attempts=retry_attempts,
            reserved_concurrent_executions=reserved_concurrency,
            environment_encryption=key,
            environment={
                "POWERTOOLS_SERVICE_NAME": function_name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        # Set on the L1 resource: the L2 `dead_letter_queue` option would also grant kms:ReEncrypt*/GenerateDataKey*.
        self.function.node.default_child.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.dead_letter_queue.queue_arn
        )
        self._record_exceptions(no_reservation_reason)

    def _record_exceptions(self, no_reservation_reason: str | None) -> None:
        """The cdk-nag acknowledgments and checkov skips every function carries, each with its reason."""
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
            "permissions, so AWS requires Resource '*' for them (the only statement with '*').",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "python3.13 is the project's Lambda runtime; the Powertools layer is the pinned version's build for it "
            "(the SSM parameter path names the runtime), so python3.14 is a deliberate change of RUNTIME alone.",
        )
        skip_checkov(self.function, "CKV_AWS_117", NO_VPC_REASON)
        if no_reservation_reason is not None:
            skip_checkov(self.function, "CKV_AWS_115", no_reservation_reason)

    def _role(self, function_name: str, key: kms.IKey) -> iam.Role:
        """A dedicated role: its own log group, its dead letters, the environment key (X-Ray is added by CDK)."""
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{function_name}: its own logs, X-Ray, dead letters, plus what its stack grants",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendDeadLetters", actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]
            )
        )
        # The environment key encrypts the environment variables (Lambda decrypts them with this role when it starts
        # an execution environment) and the dead letters; callers whose data uses the same key need nothing more.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseTheEnvironmentKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
            )
        )
        return role

    def _code(self, source: str, shared_files: Sequence[str]) -> lambda_.Code:
        return lambda_.Code.from_asset(
            str(PROJECT_ROOT / source),
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(image=RUNTIME.bundling_image, local=_CopyFiles(asset_files(source, shared_files))),
        )

    def _powertools_layer(self) -> lambda_.ILayerVersion:
        arn = CfnDynamicReference(CfnDynamicReferenceService.SSM, powertools_layer_parameter()).to_string()
        return lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", arn)
