"""Phase 04: task builders of the promotion workflow: the SageMaker and IAM pieces its fragments repeat.

Each returns a state (or a policy statement) and adds nothing to the graph by itself; the fragments connect them.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from constructs.workflow_fragments import sdk_call


def sagemaker_arn(scope: Construct, resource: str, name: str) -> str:
    """arn:<partition>:sagemaker:<region>:<account>:<resource>/<name> of the scope's stack."""
    return Stack.of(scope).format_arn(service="sagemaker", resource=resource, resource_name=name)


def sdk_tags(tags: Mapping[str, str], **extra: str) -> list[dict[str, str]]:
    """Tags in the SageMaker API's shape: the mandatory tags (sorted), then `extra` in order."""
    return [{"Key": key, "Value": value} for key, value in [*sorted(tags.items()), *extra.items()]]


def use_key(key: kms.IKey) -> iam.PolicyStatement:
    """SageMaker creates a grant on the environment key for the instances and volumes it launches."""
    return iam.PolicyStatement(actions=["kms:CreateGrant", "kms:DescribeKey"], resources=[key.key_arn])


def pass_role(role: iam.IRole) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def endpoint_call(
    scope: Construct, state_id: str, action: str, parameters: dict, endpoint_name: str, **kwargs
) -> tasks.CallAwsService:
    """A SageMaker API call on one endpoint, authorized on that endpoint only (plus `additional_iam_statements`)."""
    return sdk_call(
        scope,
        state_id,
        service="sagemaker",
        action=action,
        parameters=parameters,
        iam_resources=[sagemaker_arn(scope, "endpoint", endpoint_name)],
        **kwargs,
    )


def describe_endpoint(scope: Construct, state_id: str, endpoint_name: str, result_path: str) -> tasks.CallAwsService:
    """DescribeEndpoint, keeping only {EndpointConfigName, EndpointStatus} at `result_path`."""
    return endpoint_call(
        scope,
        state_id,
        "describeEndpoint",
        {"EndpointName": endpoint_name},
        endpoint_name,
        result_selector={"EndpointConfigName.$": "$.EndpointConfigName", "EndpointStatus.$": "$.EndpointStatus"},
        result_path=result_path,
    )
