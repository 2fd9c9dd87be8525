"""An append-only audit log of AWS events: EventBridge rules that write the events they match, whole, to one
KMS-encrypted log group with a fixed retention.

CloudWatch Logs has no API that edits or deletes a single event, so what lands there stays until the retention ends
(only deleting the log group or a stream removes events, and no role of this project may do that). EventBridge writes
to CloudWatch Logs under the account's CloudWatch Logs resource policy, not with a role: this construct writes that
policy itself (`AWS::Logs::ResourcePolicy`), limited to these rules (aws:SourceArn) and this log group, instead of
CDK's `targets.CloudWatchLogGroup`, whose custom-resource Lambda and role could not carry the mandatory tags.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.retention import retained_log_group


@dataclass(frozen=True)
class AuditedEvents:
    """One rule of the audit log: the events it matches and why they are audited."""

    construct_id: str
    rule_name: str
    description: str
    pattern: dict  # an EventBridge event pattern


class EventAuditLog(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group_name: str,
        retention_days: int,
        key: kms.IKey,
        destroy_on_delete: bool,
        policy_name: str,
        audited: list[AuditedEvents],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = retained_log_group(
            self,
            "LogGroup",
            name=log_group_name,
            retention_days=retention_days,
            destroy_on_delete=destroy_on_delete,
            key=key,
        )
        # A rule's log group target is the group's ARN without the ":*" suffix of logGroupArn.
        target_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.rules = [
            events.CfnRule(
                self,
                item.construct_id,
                name=item.rule_name,
                description=item.description,
                event_pattern=item.pattern,
                state="ENABLED",
                targets=[events.CfnRule.TargetProperty(id="AuditLog", arn=target_arn)],
            )
            for item in audited
        ]
        writes = iam.PolicyStatement(
            sid="AuditRulesWriteTheAuditLog",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn],
            conditions={
                # Built from the rule names, not Fn::GetAtt: the rules depend on this policy, not the reverse.
                "ArnEquals": {
                    "aws:SourceArn": [
                        stack.format_arn(service="events", resource="rule", resource_name=item.rule_name)
                        for item in audited
                    ]
                },
                "StringEquals": {"aws:SourceAccount": stack.account},
            },
        )
        self.resource_policy = logs.CfnResourcePolicy(
            self,
            "ResourcePolicy",
            policy_name=policy_name,
            policy_document=stack.to_json_string(iam.PolicyDocument(statements=[writes]).to_json()),
        )
        for rule in self.rules:  # the first events must find the policy in place
            rule.node.add_dependency(self.resource_policy)
