"""Project-wide guardrails applied at synth time: mandatory tags, their enforcement, and cdk-nag acknowledgments."""

from __future__ import annotations

import jsii
from aws_cdk import Acknowledgment, CfnResource, IAspect, TagManager, Tags, Validations

from constructs import IConstruct

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
