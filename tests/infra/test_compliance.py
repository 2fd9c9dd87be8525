"""Project-wide rules, checked on every stack of every environment: cdk-nag, mandatory tags, acknowledgments."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, AspectPriority, Aspects, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from nag_report import render

from config import load_all_environments
from constructs.compliance import MANDATORY_TAG_KEYS, MandatoryTagsCheck, acknowledge
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


def test_synth_fails_naming_the_construct_that_lacks_a_mandatory_tag(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Untagged")
    sqs.Queue(stack, "Queue", enforce_ssl=True)
    Aspects.of(app).add(MandatoryTagsCheck(), priority=AspectPriority.READONLY)
    with pytest.raises(RuntimeError) as failure:
        app.synth()
    assert "Untagged/Queue/Resource" in str(failure.value)
    assert "project, env, owner, managed_by, cost_center" in str(failure.value)


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
