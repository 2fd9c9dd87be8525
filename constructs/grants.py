"""IAM statements with their cdk-nag reasons side by side, and the statements several stacks write alike.

`PolicyGrants` adds statements to one policy; every wildcard resource of a statement must come with the reason
cdk-nag is told (AwsSolutions-IAM5), given in the same call, so a wildcard cannot be added without its reason nor a
reason outlive its wildcard. The finding ids are rendered from the resources themselves
(constructs/compliance.py `acknowledge_wildcard`), never retyped.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs.compliance import acknowledge_wildcard

ECR_PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


class PolicyGrants:
    """Statements of one policy: an `iam.Policy`, or a role's default policy."""

    def __init__(self, policy: iam.Policy | iam.Role) -> None:
        self._policy = policy
        self._reasons: dict[str, str] = {}  # wildcard resource -> its reason (one finding per resource and policy)

    def add(self, *statements: iam.PolicyStatement, because: str | Mapping[str, str] | None = None) -> None:
        """Add `statements` in order. `because`: the reason for every wildcard resource they name, or one reason per
        wildcard resource ({resource: reason}). A wildcard without a reason, or a reason without its wildcard,
        raises ValueError."""
        wildcards = [r for statement in statements for r in statement.resources if "*" in r]
        reasons = dict.fromkeys(wildcards, because) if isinstance(because, str) or because is None else dict(because)
        if unexplained := [resource for resource in wildcards if not reasons.get(resource)]:
            raise ValueError(f"wildcard resource(s) without a reason: {', '.join(unexplained)}")
        if stale := sorted(set(reasons) - set(wildcards)):
            raise ValueError(f"reason(s) for resource(s) that are not wildcards of these statements: {stale}")
        for statement in statements:
            if isinstance(self._policy, iam.Policy):
                self._policy.add_statements(statement)
            else:
                self._policy.add_to_principal_policy(statement)
        for resource in wildcards:
            known = self._reasons.get(resource)
            if known is not None and known != reasons[resource]:
                raise ValueError(f"{resource} already has another reason on this policy: {known!r}")
            if known is None:
                self._reasons[resource] = reasons[resource]
                acknowledge_wildcard(self._scope(), resource, reasons[resource])

    def _scope(self):
        """The construct cdk-nag reports the policy's findings on."""
        if isinstance(self._policy, iam.Policy):
            return self._policy
        return self._policy.node.find_child("DefaultPolicy")


def ecr_pull_statements(repository_arn: str, *, pull_sid: str, login_sid: str) -> tuple[iam.PolicyStatement, ...]:
    """Pull an image from one ECR repository; the login call (GetAuthorizationToken) has no resource-level
    permissions, so its statement names Resource '*' (its caller gives the reason)."""
    return (
        iam.PolicyStatement(sid=pull_sid, actions=ECR_PULL_ACTIONS, resources=[repository_arn]),
        iam.PolicyStatement(sid=login_sid, actions=["ecr:GetAuthorizationToken"], resources=["*"]),
    )


def publish_to_encrypted_topic(key: kms.IKey) -> iam.PolicyStatement:
    """What a publisher needs besides sns:Publish when the topic is encrypted with `key`: SNS generates and decrypts
    the message's data key with the publisher's permission
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#send-to-encrypted-topic)."""
    return iam.PolicyStatement(
        sid="PublishToTheEncryptedAlertsTopic",
        actions=["kms:GenerateDataKey", "kms:Decrypt"],
        resources=[key.key_arn],
    )
