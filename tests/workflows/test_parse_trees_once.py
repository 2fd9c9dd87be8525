"""The speed patch of tests/moto_patches.py (`ParseTreesOnce`) changes no outcome: a definition moto refuses is
still refused at every CreateStateMachine, and two executions of one definition share no state."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.moto_patches import REGION, emulated_aws
from tests.workflows.conftest import ended

ROLE = "arn:aws:iam::123456789012:role/workflow-test"
COUNTER = {
    "StartAt": "Count",
    "States": {
        "Count": {
            "Type": "Pass",
            "Parameters": {"seen.$": "States.ArrayLength($.items)", "name.$": "States.Format('run {}', $.run)"},
            "End": True,
        }
    },
}


def _run(sfn, machine: str, payload: dict) -> dict:
    name = f"run-{payload['run']}"
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))["executionArn"]
    execution = ended(sfn, arn)
    assert execution, f"{name} still running"
    return execution


def test_a_refused_definition_is_refused_every_time_and_executions_do_not_share_state():
    with emulated_aws({}):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        broken = json.dumps({"StartAt": "Missing", "States": {"Count": {"Type": "NoSuchType", "End": True}}})
        for attempt in ("first", "second"):
            with pytest.raises(ClientError, match="ASLParserException"):  # moto's InvalidDefinition, without a code
                sfn.create_state_machine(name=f"broken-{attempt}", definition=broken, roleArn=ROLE)
        machines = [
            sfn.create_state_machine(name=f"counter-{n}", definition=json.dumps(COUNTER), roleArn=ROLE)[
                "stateMachineArn"
            ]
            for n in (1, 2)
        ]
        outputs = [
            json.loads(_run(sfn, machine, {"items": items, "run": n})["output"])
            for n, (machine, items) in enumerate(zip(machines * 2, ([1], [1, 2], [1, 2, 3], [])))
        ]
    assert outputs == [
        {"seen": 1, "name": "run 0"},
        {"seen": 2, "name": "run 1"},
        {"seen": 3, "name": "run 2"},
        {"seen": 0, "name": "run 3"},
    ]
