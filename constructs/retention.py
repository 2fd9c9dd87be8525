"""How long things live: the removal policy of stateful resources and log groups with their retention.

An environment's `data_removal_policy` ("retain" or "destroy", config/settings.py) decides whether CloudFormation
deletes its buckets, keys, queues and log groups with their stack; production retains them.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs import Construct


def removal_policy(destroy_on_delete: bool) -> RemovalPolicy:
    return RemovalPolicy.DESTROY if destroy_on_delete else RemovalPolicy.RETAIN


def retained_log_group(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    retention_days: int,
    destroy_on_delete: bool,
    key: kms.IKey | None = None,
) -> logs.LogGroup:
    """A named log group that keeps its events `retention_days` (any value CloudWatch accepts; config validates it),
    encrypted with `key` when given."""
    log_group = logs.LogGroup(
        scope, construct_id, log_group_name=name, encryption_key=key, removal_policy=removal_policy(destroy_on_delete)
    )
    # Set on the L1 resource: the L2 `retention` enum has no constructor from a number of days.
    log_group.node.default_child.retention_in_days = retention_days
    return log_group
