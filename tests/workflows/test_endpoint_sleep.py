"""Endpoint sleep (phase 07) under moto, end to end: the promotion workflow releases, the real sleeper handler
(lambdas/endpoint_sleeper/) with the synthesized function's environment puts the endpoints to sleep, and
`make wake` / `make sleep` (scripts/endpoint_sleep.py), a release and `make rollback` bring them back."""

from __future__ import annotations

import importlib.util
import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from unittest import mock

import boto3
import endpoint_sleep as sleep_cli
import pytest
import release as release_cli

from lambdas.endpoint_sleeper import sleeper
from tests.moto_patches import REGION, created_days_ago
from tests.workflows.conftest import CONFIG, NAMES, ROOT, model_answer
from tests.workflows.test_promotion import release

HANDLER = ROOT / "lambdas" / "endpoint_sleeper" / "handler.py"
CONTEXT = SimpleNamespace(
    function_name=NAMES.endpoint_sleeper_function, memory_limit_in_mb=256, invoked_function_arn="a", aws_request_id="r"
)


@pytest.fixture
def sleeper_handler(world, templates):
    """The real handler, run with the environment variables the observability stack gives the function (set only
    while it runs: the smoke-test handler the workflow runs in the same process must not see them)."""
    (function,) = [
        resource["Properties"]
        for resource in templates[NAMES.stack("observability")]["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("FunctionName") == NAMES.endpoint_sleeper_function
    ]
    # The state machine's ARN is a Fn::Join in the template; in moto it is the one the world created.
    variables = {
        key: value if isinstance(value, str) else world.machines["promotion"]
        for key, value in function["Environment"]["Variables"].items()
    }
    spec = importlib.util.spec_from_file_location("endpoint_sleeper_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(action: str) -> dict:
        with mock.patch.dict(os.environ, variables):
            return module.handler({"action": action}, CONTEXT)

    return run


def _released(world, *packages: str) -> None:
    for package in packages:
        world.endpoint_answers(model_answer(), model_answer())
        assert world.finish(release(world, package))["status"] == "SUCCEEDED"


def _kept(world) -> tuple[list[str], list[str]]:
    configs = [c["EndpointConfigName"] for c in world.sm.list_endpoint_configs()["EndpointConfigs"]]
    models = [m["ModelName"] for m in world.sm.list_models()["Models"]]
    return sorted(configs), sorted(models)


def _awake(world) -> dict[str, str | None]:
    return {stage: world.endpoint_config(stage) for stage in ("staging", "prod")}


def test_after_hours_sleep_deletes_the_endpoints_and_keeps_configs_models_and_records(world, sleeper_handler):
    _released(world, world.register_package())
    before, records = _kept(world), {stage: world.records(stage) for stage in ("staging", "prod")}
    assert all(_awake(world).values())

    result = sleeper_handler("sleep")

    assert _awake(world) == {"staging": None, "prod": None}
    assert _kept(world) == before and before[0] and before[1]
    assert {stage: world.records(stage) for stage in ("staging", "prod")} == records
    assert [line.split(":")[0] for line in result["lines"]] == [NAMES.endpoint("staging"), NAMES.endpoint("prod")]
    assert all("put to sleep (outside working hours)" in line for line in result["lines"])
    assert sleeper_handler("sleep")["lines"][0].endswith("already asleep (no endpoint)")


def test_nothing_sleeps_while_a_promotion_runs(world, sleeper_handler):
    _released(world, world.register_package())
    world.endpoint_answers(model_answer())
    waiting = release(world, world.register_package(), approve_it=False)
    world.approval_token()  # staging is done, the execution waits at the approval gate: RUNNING
    try:
        result = sleeper_handler("sleep")
        assert "a promotion is running" in result["lines"][0]
        assert all(_awake(world).values())
    finally:
        world.sfn.stop_execution(executionArn=waiting)


def test_idle_check_sleeps_the_endpoint_nobody_called_and_keeps_the_one_in_use(world, sleeper_handler):
    _released(world, world.register_package())
    # Woken less than sleep_after_idle_hours ago: kept, although nobody called it yet.
    assert all("awake for less than" in line for line in sleeper_handler("sleep-idle")["lines"])

    for stage in ("staging", "prod"):
        created_days_ago(NAMES.endpoint(stage), 1)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": NAMES.endpoint("staging")},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=30),
                "Value": 3,
            }
        ],
    )
    lines = sleeper_handler("sleep-idle")["lines"]

    assert _awake(world)["staging"] and _awake(world)["prod"] is None
    assert "3 invocations in the last 2 h, kept" in lines[0]
    assert "put to sleep (no invocation in 2 h)" in lines[1]


def test_wake_recreates_each_endpoint_on_its_recorded_config_with_the_workflow_tags(world, sleeper_handler, capsys):
    _released(world, world.register_package(), world.register_package())
    served = _awake(world)
    tags = world.sm.list_tags(
        ResourceArn=world.sm.describe_endpoint(EndpointName=NAMES.endpoint("prod"))["EndpointArn"]
    )
    sleeper_handler("sleep")

    assert sleep_cli.main(["wake", "--env", "dev"]) == 0

    assert _awake(world) == served
    assert served == {stage: world.records(stage)[0].endpoint_config_name for stage in served}
    arn = world.sm.describe_endpoint(EndpointName=NAMES.endpoint("prod"))["EndpointArn"]
    assert world.sm.list_tags(ResourceArn=arn)["Tags"] == tags["Tags"]
    printed = capsys.readouterr().out
    assert f"waking on {served['prod']} (package version 2" in printed
    assert sleep_cli.main(["wake", "--env", "dev"]) == 0
    assert "awake (InService), nothing to do" in capsys.readouterr().out


def test_wake_with_no_release_record_says_there_is_nothing_to_wake(world, capsys):
    assert sleep_cli.main(["wake", "--env", "dev"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"{NAMES.endpoint(stage)}: nothing to wake, {stage} has no release record yet (make pipeline-start)"
        for stage in ("staging", "prod")
    ]
    assert _awake(world) == {"staging": None, "prod": None}


def test_make_sleep_puts_them_to_sleep_and_a_release_wakes_them(world, capsys):
    v1, v2 = world.register_package(), world.register_package()
    _released(world, v1)
    assert sleep_cli.main(["sleep", "--env", "dev"]) == 0
    assert capsys.readouterr().out.count("put to sleep") == 2

    _released(world, v2)  # DescribeEndpoint finds no endpoint: the workflow creates it

    assert _awake(world) == {stage: world.records(stage)[0].endpoint_config_name for stage in ("staging", "prod")}
    assert world.served("prod") == [v2, v1]


def test_rollback_onto_a_sleeping_prod_endpoint_creates_it_on_the_older_release(world, sleeper_handler):
    v1, v2 = world.register_package(), world.register_package()
    _released(world, v1, v2)
    sleeper_handler("sleep")

    message = release_cli.rollback(CONFIG, "prod", actor="operator:alice", reason="v2 is wrong")
    world.endpoint_answers(model_answer())
    assert world.finish(message.rsplit("execution: ", 1)[1])["status"] == "SUCCEEDED"

    assert world.served("prod") == [v1, v2, v1]
    assert _awake(world)["prod"] == world.records("prod")[0].endpoint_config_name
    assert (world.records("prod")[0].mode, world.records("prod")[0].package_version) == ("rollback", 1)


def test_where_sleep_is_off_nothing_sleeps(world, capsys):
    _released(world, world.register_package())
    assert sleep_cli.main(["sleep", "--env", "prod"]) == 0
    assert "do not sleep in this environment" in capsys.readouterr().out
    assert all(_awake(world).values())
    off = sleeper.Settings("prod", False, NAMES.endpoints, {}, "", world.machines["promotion"], 2)
    clients = sleep_cli.clients_for(CONFIG)
    assert sleeper.sleep(clients, off, idle_only=False) == [
        "prod: endpoints do not sleep in this environment ([cost] endpoints_sleep = false); nothing done"
    ]
    assert all(_awake(world).values())
