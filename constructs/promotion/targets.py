"""Phase 04: what the promotion workflow deploys to and records in: typed references from the serving, foundation,
training and orchestration stacks (stacks/orchestration.py builds it)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from config.names import Names


@dataclass(frozen=True)
class PromotionTargets:
    names: Names  # the environment's names: models and endpoint configs of a release start with names.prefix
    tags: dict[str, str]  # mandatory tags, put on every model, endpoint config and endpoint the workflow creates
    endpoint_names: dict[str, str]  # stage -> endpoint name
    endpoint_role: iam.IRole
    key: kms.IKey
    data_capture_uri: str
    guard_alarm_names: tuple[str, ...]  # alarms that roll a prod rollout back
    artifacts_bucket: s3.IBucket  # the pipeline's evaluation reports (the champion check reads two of them)
    releases_table: dynamodb.ITable  # release records: one item per time a stage starts serving a package
    model_package_group_name: str
    alerts_topic: sns.ITopic
    smoke_function: lambda_.IFunction
