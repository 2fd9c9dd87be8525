"""The prod endpoint's drift alarm starts a retraining: the synthesized rule's pattern and input transformer, routed by
moto's EventBridge (real pattern matching), then the retraining workflow executed on what the rule delivers.

moto's EventBridge cannot deliver to Step Functions, so the rule's target is swapped for an SQS queue carrying the
template's own InputTransformer; the message it receives is the input the state machine would be started with.
"""

from __future__ import annotations

import json

import boto3
import pytest

from config.names import STAGES
from tests import moto_patches
from tests.moto_patches import ACCOUNT, REGION
from tests.workflows.conftest import NAMES


def alarm_state_change(alarm: str, state: str, previous: str = "OK") -> dict:
    """A "CloudWatch Alarm State Change" event as EventBridge delivers it (AWS CloudWatch user guide, "Alarm events
    and EventBridge")."""
    detail = {
        "alarmName": alarm,
        "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2026-11-30T13:25:00.000+0000"},
        "previousState": {"value": previous, "reason": "", "timestamp": "2026-11-30T12:25:00.000+0000"},
        "configuration": {"description": "drift"},
    }
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}"],
        "Detail": json.dumps(detail),
    }


@pytest.fixture
def drift_rule(world, templates):
    """The template's drift -> retraining rule in moto, delivering to a queue; returns a function that puts events
    and returns the inputs the rule delivered."""
    resources = templates[NAMES.stack("orchestration")]["Resources"].values()
    (rule,) = [r["Properties"] for r in resources if r["Properties"].get("Name") == NAMES.drift_retraining_rule]
    (target,) = rule["Targets"]
    assert target["Arn"]["Ref"].startswith("RetrainingStateMachine")
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    queue = sqs.create_queue(QueueName="drift-rule-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule["Name"], EventPattern=json.dumps(rule["EventPattern"]))
    events.put_targets(
        Rule=rule["Name"],
        Targets=[{"Id": "retraining", "Arn": queue_arn, "InputTransformer": target["InputTransformer"]}],
    )

    def deliver(*entries: dict) -> list[dict]:
        with moto_patches.eventbridge_json_input():
            events.put_events(Entries=list(entries))
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return deliver


def test_the_prod_drift_alarm_starts_a_retraining_on_the_default_input(world, drift_rule):
    (delivered,) = drift_rule(alarm_state_change(NAMES.drift_alarm("prod"), "ALARM"))
    assert delivered == {"trigger": "drift", "alarm": NAMES.drift_alarm("prod")}

    execution = world.finish(world.start("retraining", delivered))

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    assert "TrainOnTheDefaultInput" in world.visited(execution["executionArn"])
    (summary,) = world.sm.list_pipeline_executions(PipelineName=NAMES.pipeline)["PipelineExecutionSummaries"]
    started = world.sm.describe_pipeline_execution(PipelineExecutionArn=summary["PipelineExecutionArn"])
    assert started["PipelineExecutionDescription"].startswith("trigger=drift ")
    arn = summary["PipelineExecutionArn"]
    assert world.sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"] == []


def test_only_the_prod_drift_alarm_entering_alarm_starts_anything(drift_rule):
    others = [
        alarm_state_change(NAMES.drift_alarm("prod"), "OK", previous="ALARM"),  # recovering
        alarm_state_change(NAMES.drift_alarm("prod"), "INSUFFICIENT_DATA"),
        alarm_state_change(NAMES.capture_schema_alarm("prod"), "ALARM"),  # bad requests: retraining fixes nothing
        *[alarm_state_change(NAMES.drift_alarm(stage), "ALARM") for stage in STAGES if stage != "prod"],
        alarm_state_change(NAMES.guard_alarm("5xx"), "ALARM"),
    ]
    assert drift_rule(*others) == []


def test_a_drift_retraining_never_overlaps_a_running_pipeline(world, drift_rule):
    (delivered,) = drift_rule(alarm_state_change(NAMES.drift_alarm("prod"), "ALARM"))
    with moto_patches.pipeline_statuses() as statuses:
        statuses.append("Executing")
        world.sm.start_pipeline_execution(PipelineName=NAMES.pipeline, ClientRequestToken="z" * 32)
        execution = world.finish(world.start("retraining", delivered))

    assert execution["status"] == "SUCCEEDED"
    assert world.visited(execution["executionArn"])[-1] == "SkippedOverlappingRun"
