"""A Python Lambda function with the project's defaults, packaged from lambdas/<name>/ plus shared ml/ modules.

The function gets its own role (no managed policies: callers grant exactly what it needs), its own log group with the
environment's retention, and the AWS-published Powertools for AWS Lambda (Python) v3 layer. Shared modules (for
example ml/smoke.py, the smoke-test contract) are copied into the asset at synth time, so the repository holds one
copy of them and the Lambda runs the same code the tests import.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = PROJECT_ROOT / ".build" / "lambda"

RUNTIME = lambda_.Runtime.PYTHON_3_14
# Powertools for AWS Lambda (Python) v3, published by AWS in account 017000801446; the version is pinned so a deploy
# never picks up a new layer silently (lambdas/*/requirements.txt pins the same major for the tests).
POWERTOOLS_LAYER = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-x86_64:27"


def build_asset(source: str, shared_modules: Sequence[str]) -> Path:
    """Assemble lambdas/<name>/ and the shared modules (paths relative to the project root) into one folder."""
    source_dir = PROJECT_ROOT / source
    target = BUILD_ROOT / source_dir.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source_dir, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt"))
    for module in shared_modules:
        destination = target / module
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_ROOT / module, destination)
    return target


class PythonLambda(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        source: str,
        description: str,
        log_retention_days: int,
        environment: dict[str, str] | None = None,
        shared_modules: Sequence[str] = (),
        timeout_seconds: int = 60,
        memory_size: int = 256,
        destroy_logs: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            removal_policy=RemovalPolicy.DESTROY if destroy_logs else RemovalPolicy.RETAIN,
        )
        # The environment's retention in days (config validates it against the values CloudWatch accepts).
        self.log_group.node.default_child.retention_in_days = log_retention_days
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{function_name}: runtime role (writes its own logs; callers grant the rest)",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", POWERTOOLS_LAYER.format(region=Stack.of(self).region)
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(build_asset(source, shared_modules))),
            role=self.role,
            log_group=self.log_group,
            layers=[layer],
            timeout=Duration.seconds(timeout_seconds),
            memory_size=memory_size,
            environment={"POWERTOOLS_SERVICE_NAME": function_name, **(environment or {})},
        )
