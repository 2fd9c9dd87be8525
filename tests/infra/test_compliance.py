"""Project-wide rules, checked on every stack of every environment: cdk-nag, mandatory tags, acknowledgments,
checkov skips, IAM actions spelt as IAM spells them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Tags, Validations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from nag_report import render

from config import load_all_environments
from constructs import Construct
from constructs.compliance import (
    MANDATORY_TAG_KEYS,
    acknowledge,
    apply_mandatory_tags,
    check_mandatory_tags,
    skip_checkov,
)
from tests.infra.conftest import STACK_NAMES

CONFIGS = {config.name: config for config in load_all_environments()}


def test_synth_succeeds(synthesis):
    assert synthesis.error is None, synthesis.error
    assert sorted(synthesis.stacks) == sorted(STACK_NAMES)


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_no_nag_errors(synthesis, stack):
    assert synthesis.stacks[stack].findings == []


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_acknowledgment_suppresses_a_finding(synthesis, stack):
    assert synthesis.stacks[stack].stale == []


def test_nag_report_is_up_to_date(synthesis):
    committed = Path("docs/nag-acknowledgments.md").read_text()
    assert committed == render(synthesis.outdir), "run `make nag-report` and commit docs/nag-acknowledgments.md"


def _is_taggable(resource_type: str, region: str) -> bool:
    if resource_type.startswith("Custom::"):
        return False
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    return "Tags" in schema.get("properties", {})


def _tags(properties: dict) -> dict[str, str]:
    tags = properties.get("Tags", {})
    if isinstance(tags, list):  # most resources: [{"Key": ..., "Value": ...}]
        return {tag["Key"]: tag["Value"] for tag in tags}
    return dict(tags)  # a few resources use a plain map


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_taggable_resource_has_the_mandatory_tags(synthesis, stack):
    summary = synthesis.stacks[stack]
    config = CONFIGS[summary.environment]
    expected = config.mandatory_tags
    checked = 0
    for logical_id, resource in summary.template["Resources"].items():
        if not _is_taggable(resource["Type"], config.region):
            continue
        tags = _tags(resource.get("Properties", {}))
        assert {key: tags.get(key) for key in MANDATORY_TAG_KEYS} == expected, f"{stack}/{logical_id}"
        checked += 1
    assert checked > 0


def test_synth_fails_naming_every_construct_that_lacks_a_mandatory_tag(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Untagged")
    sqs.Queue(stack, "Queue", enforce_ssl=True)
    topic = sns.Topic(Stack(app, "PartlyTagged"), "Topic")
    apply_mandatory_tags(topic, {key: "x" for key in MANDATORY_TAG_KEYS})
    Tags.of(topic).remove("owner")
    sqs.Queue(topic.stack, "Tagged", enforce_ssl=True)
    apply_mandatory_tags(topic.stack.node.find_child("Tagged"), {key: "x" for key in MANDATORY_TAG_KEYS})
    check_mandatory_tags(app)
    with pytest.raises(RuntimeError) as failure:
        app.synth()
    message = str(failure.value)
    assert (
        "Untagged/Queue/Resource (AWS::SQS::Queue) lacks mandatory tag(s): project, env, owner, managed_by, cost_center"
        in message
    )
    assert "PartlyTagged/Topic/Resource (AWS::SNS::Topic) lacks mandatory tag(s): owner" in message
    assert "PartlyTagged/Tagged" not in message


def test_nag_gate_fails_synth_on_an_unacknowledged_finding(tmp_path):
    app = App(outdir=str(tmp_path))
    sqs.Queue(Stack(app, "Insecure"), "Queue")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"(?s)ValidationFailed.*AwsSolutions-SQS4"):
        app.synth()


def test_acknowledgment_without_a_specific_reason_is_refused():
    stack = Stack(App(), "S")
    with pytest.raises(ValueError, match="specific reason"):
        acknowledge(stack, "AwsSolutions-SQS3", "not needed")


SKIP_REASON = "the queue only ever holds dead letters of one function, never more than a handful"


def test_checkov_skips_accumulate_on_the_cloudformation_resource_with_their_reasons():
    stack = Stack(App(), "S")
    queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
    skip_checkov(queue, "CKV_AWS_27", SKIP_REASON)  # an L2 construct: its default child carries the metadata
    skip_checkov(queue.node.default_child, "CKV2_AWS_73", SKIP_REASON)
    [resource] = Template.from_stack(stack).find_resources("AWS::SQS::Queue").values()
    assert resource["Metadata"]["checkov"] == {
        "skip": [{"id": "CKV_AWS_27", "comment": SKIP_REASON}, {"id": "CKV2_AWS_73", "comment": SKIP_REASON}]
    }


@pytest.mark.parametrize(
    ("check_id", "reason", "error"),
    [
        ("CKV_AWS_27", "false positive", "specific reason"),
        ("AwsSolutions-SQS3", SKIP_REASON, "not a checkov check id"),
        ("CKV_AWS_27", SKIP_REASON, "skipped twice"),
    ],
)
def test_a_checkov_skip_needs_a_check_id_a_specific_reason_and_is_written_once(check_id, reason, error):
    stack = Stack(App(), "S")
    queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
    skip_checkov(queue, "CKV_AWS_27", SKIP_REASON)
    with pytest.raises(ValueError, match=error):
        skip_checkov(queue, check_id, reason)


def test_a_checkov_skip_needs_a_cloudformation_resource():
    with pytest.raises(ValueError, match="is not a CloudFormation resource"):
        skip_checkov(Construct(Stack(App(), "S"), "Group"), "CKV_AWS_27", SKIP_REASON)


def _policy_actions(template: dict):
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        inline = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        documents = [properties.get("PolicyDocument"), properties.get("KeyPolicy"), *inline]
        # A document given as text (AWS::Logs::ResourcePolicy, rendered with Fn::Join) is read where it is plain JSON.
        documents = [json.loads(d) if isinstance(d, str) else d for d in documents]
        for document in (d for d in documents if isinstance(d, dict) and "Statement" in d):
            for statement in document["Statement"]:
                actions = statement.get("Action", [])
                yield from ((logical_id, action) for action in ([actions] if isinstance(actions, str) else actions))


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_iam_action_is_spelt_as_iam_spells_it(synthesis, stack):
    """`service:Action` in Pascal case, as the service authorization reference lists it: IAM itself ignores case, but
    policy analyzers (checkov's cloudsplaining) do not, and read an unknown spelling as an unscoped action. SDK tasks
    get theirs from constructs.workflow_fragments.sdk_call."""
    camel = [
        f"{logical_id}: {action}"
        for logical_id, action in _policy_actions(synthesis.stacks[stack].template)
        if re.fullmatch(r"[a-z0-9-]+:[a-z][A-Za-z0-9*]*", action)
    ]
    assert camel == [], "build SDK tasks with sdk_call (constructs/workflow_fragments.py): " + ", ".join(camel)
