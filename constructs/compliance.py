"""Phase 00: project-wide guardrails applied at synth time: mandatory tags (applied and checked), cdk-nag
acknowledgments and checkov skips."""

from __future__ import annotations

import json
import re

import jsii
from aws_cdk import Acknowledgment, CfnResource, Stack, TagManager, Tags, Validations

from constructs import IConstruct, IValidation

MANDATORY_TAG_KEYS = ("project", "env", "owner", "managed_by", "cost_center")

# A reason must let a reviewer judge the exception without opening the code (scripts/checkov_scan.py holds the
# scan's side of the same minimum).
MIN_REASON_LENGTH = 40
CHECKOV_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")


def apply_mandatory_tags(scope: IConstruct, tags: dict[str, str]) -> None:
    missing = [key for key in MANDATORY_TAG_KEYS if not tags.get(key)]
    if missing:
        raise ValueError(f"mandatory tags without a value: {', '.join(missing)}")
    scope_tags = Tags.of(scope)
    for key, value in tags.items():
        scope_tags.add(key, value)


@jsii.implements(IValidation)
class MandatoryTagsCheck:
    """Fails synthesis when a taggable resource lacks a mandatory tag, naming each such resource by construct path.

    A validation of the scope (`check_mandatory_tags`): CDK validates the tree after every aspect has run, the tag
    aspects included, so it sees the tags CloudFormation will receive. One walk over the tree in Python: as an aspect
    it cost a callback from Node for every construct, about 1 s of a 10 s synthesis (docs/00-foundations.md).
    Taggable is what `TagManager.of` finds: a tag manager of either kind CDK has (`tags` or `cdkTagManager`).
    """

    def __init__(self, scope: IConstruct) -> None:
        self._scope = scope

    def validate(self) -> list[str]:
        errors = []
        for node in self._scope.node.find_all():
            manager = TagManager.of(node) if isinstance(node, CfnResource) else None
            if manager is None:
                continue
            present = manager.tag_values()
            missing = [key for key in MANDATORY_TAG_KEYS if not present.get(key)]
            if missing:
                resource = f"{node.node.path} ({node.cfn_resource_type})"
                errors.append(f"{resource} lacks mandatory tag(s): {', '.join(missing)}")
        return errors


def check_mandatory_tags(scope: IConstruct) -> None:
    """Synthesis of `scope` fails while any taggable resource in it lacks a mandatory tag (`cdk synth` and
    `app.synth()` alike: a failed validation raises)."""
    scope.node.add_validation(MandatoryTagsCheck(scope))


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


def skip_checkov(scope: IConstruct, check_id: str, reason: str) -> None:
    """Skip one checkov check on the CloudFormation resource of `scope` (an L1 resource, or an L2 construct whose
    default child is one), with the reason in the template: `Metadata.checkov.skip` = [{id, comment}].

    checkov reads that metadata itself; `make checkov` lists every skip with its reason (docs/checkov-report.md)
    and fails when a skip matches no check of that resource. Never a global `--skip-check`.
    """
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise ValueError(f"checkov skip of {check_id}: {scope.node.path} is not a CloudFormation resource")
    if not CHECKOV_CHECK_ID.match(check_id):
        raise ValueError(f"checkov skip on {resource.node.path}: {check_id!r} is not a checkov check id")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"checkov skip of {check_id} on {resource.node.path} needs a specific reason, got {reason!r}")
    skips = list((resource.get_metadata("checkov") or {}).get("skip", []))
    if any(entry["id"] == check_id for entry in skips):
        raise ValueError(f"{check_id} is skipped twice on {resource.node.path}")
    resource.add_metadata("checkov", {"skip": [*skips, {"id": check_id, "comment": reason.strip()}]})


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
