"""Phase 00: project-wide guardrails applied at synth time: mandatory tags and cdk-nag acknowledgments."""

from __future__ import annotations

import json

import jsii
from aws_cdk import Acknowledgment, CfnResource, IAspect, Stack, TagManager, Tags, Validations

from constructs import IConstruct, IValidation

MANDATORY_TAG_KEYS = ("project", "env", "owner", "managed_by", "cost_center")

# A reason must let a reviewer judge the exception without opening the code.
MIN_REASON_LENGTH = 40


def apply_mandatory_tags(scope: IConstruct, tags: dict[str, str]) -> None:
    missing = [key for key in MANDATORY_TAG_KEYS if not tags.get(key)]
    if missing:
        raise ValueError(f"mandatory tags without a value: {', '.join(missing)}")
    for key, value in tags.items():
        Tags.of(scope).add(key, value)


class MissingMandatoryTags(Exception):
    pass


@jsii.implements(IAspect)
class MandatoryTagsCheck:
    """Fails synthesis, naming the construct path, when a taggable resource lacks a mandatory tag.

    Runs after the tag aspects (read-only aspects run last), so it sees the tags CloudFormation will receive.
    """

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or not TagManager.is_taggable(node):
            return
        present = node.tags.tag_values()
        missing = [key for key in MANDATORY_TAG_KEYS if not present.get(key)]
        if missing:
            # Raised, not annotated: an error annotation stops `cdk synth` but not `app.synth()` in tests or scripts.
            raise MissingMandatoryTags(
                f"{node.node.path} ({node.cfn_resource_type}) lacks mandatory tag(s): {', '.join(missing)}"
            )


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on the narrowest construct that has it.

    `rule_id` is the exact finding id, granular where cdk-nag reports one (for example
    `AwsSolutions-IAM5[Action::s3:List*]`); the base id never covers granular findings. cdk-nag 3 reads
    acknowledgments as `<pack>::<rule>`, so the pack prefix is added here.
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgment of {rule_id} on {scope.node.path} needs a specific reason, got {reason!r}")
    pack = rule_id.split("-", 1)[0]
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}::{rule_id}", reason=reason))


def merge_wildcard_reasons(*parts: dict[str, str]) -> dict[str, str]:
    """{wildcard resource: IAM5 reason} of several pieces of one policy; one resource cannot have two reasons."""
    merged: dict[str, str] = {}
    for part in parts:
        for resource, reason in part.items():
            if merged.setdefault(resource, reason) != reason:
                raise ValueError(f"{resource} has two reasons: {merged[resource]!r} and {reason!r}")
    return merged


def nag_resource(value: object) -> str:
    """A resolved IAM resource as cdk-nag writes it in a finding id (its flattenCfnReference): Fn::Join joined,
    `Ref` as <Name>, `Fn::GetAtt` as <Resource.Attribute>, an import as its export name."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(nag_resource(part) for part in parts)
    if isinstance(value, dict) and "Fn::Sub" in value:
        return nag_resource(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"<{nag_resource(resource)}.{nag_resource(attribute)}>"
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        return nag_resource(value["Fn::ImportValue"])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{nag_resource(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


@jsii.implements(IValidation)
class _WildcardAcknowledgment:
    def __init__(self, scope: IConstruct, resource: str, reason: str) -> None:
        self._scope, self._resource, self._reason = scope, resource, reason

    def validate(self) -> list[str]:
        rendered = nag_resource(Stack.of(self._scope).resolve(self._resource))
        acknowledge(self._scope, f"AwsSolutions-IAM5[Resource::{rendered}]", self._reason)
        return []


def acknowledge_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge the IAM5 finding of one wildcard `resource` (as written in the statement, tokens and all) of the
    policy `scope`.

    The finding id is rendered like cdk-nag renders it, in the validation phase: a resource of another stack is
    named by its export (`<stack>:<export name>`), which exists only after CDK has resolved cross-stack references.
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgment of {resource} on {scope.node.path} needs a specific reason, got {reason!r}")
    scope.node.add_validation(_WildcardAcknowledgment(scope, resource, reason))
