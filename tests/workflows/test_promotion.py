"""The promotion workflow, executed: the synthesized definition runs under moto with the real smoke-test handler."""

from __future__ import annotations

from datetime import datetime, timedelta

import boto3
import pytest
import release as release_cli
from release_records import ReleaseRecord

from tests.workflows.conftest import CONFIG, NAMES, PREFIX, REGION, model_answer

STAGING, PROD = NAMES.endpoint("staging"), NAMES.endpoint("prod")


def approve(world, token: str) -> None:
    release_cli.approve(CONFIG, token, "tests")  # the command behind `make approve-release`


def release(world, package: str, *, approve_it: bool = True) -> str:
    execution = world.start("promotion", {"model_package_arn": package, "mode": "release", "actor": "tests"})
    if approve_it:
        approve(world, world.approval_token())
    return execution


def failure_alerts(world) -> list[dict]:
    return [m["body"] for m in world.messages() if m["subject"].endswith("model promotion stopped")]


def test_happy_path_reaches_prod_and_records_the_package(world, aws):
    package = world.register_package()
    world.endpoint_answers(model_answer(), model_answer())
    execution = world.finish(release(world, package))

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    staging_config, prod_config = world.endpoint_config("staging"), world.endpoint_config("prod")
    assert staging_config.startswith(f"{PREFIX}-staging-") and prod_config.startswith(f"{PREFIX}-prod-")
    # One release record per stage that started serving, with every attribute of the contract (docs/04).
    (staging_record,), (prod_record,) = world.records("staging"), world.records("prod")
    assert (staging_record.endpoint_config_name, prod_record.endpoint_config_name) == (staging_config, prod_config)
    assert prod_record == ReleaseRecord(
        stage="prod",
        released_at=prod_record.released_at,
        model_package_arn=package,
        package_version=1,
        model_name=world.sm.describe_endpoint_config(EndpointConfigName=prod_config)["ProductionVariants"][0][
            "ModelName"
        ],
        endpoint_name=PROD,
        endpoint_config_name=prod_config,
        mode="release",
        execution_arn=execution["executionArn"],
        actor="tests",
        reason=None,
    )
    assert datetime.fromisoformat(prod_record.released_at.replace("Z", "+00:00")).utcoffset() == timedelta(0)
    assert staging_record.released_at < prod_record.released_at
    # The endpoint config carries KMS, data capture and the mandatory tags; the model comes from the package.
    described = world.sm.describe_endpoint_config(EndpointConfigName=prod_config)
    assert described["KmsKeyId"].startswith("arn:aws:kms:")
    assert described["DataCaptureConfig"]["InitialSamplingPercentage"] == CONFIG.serving.data_capture_percent
    model = world.sm.describe_model(ModelName=described["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == package
    tags = {t["Key"]: t["Value"] for t in world.sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]}
    assert tags.items() >= CONFIG.mandatory_tags.items()
    # Prod autoscaling is registered with the configured bounds.
    targets = boto3.client("application-autoscaling", region_name=REGION).describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (f"endpoint/{PROD}/variant/AllTraffic", CONFIG.serving.prod.instance_count, CONFIG.serving.prod.max_instances)
    ]
    subjects = [m["subject"] for m in world.messages()]
    assert subjects == [f"{PREFIX}: release approval needed", f"{PREFIX}: model released to prod"]
    request = world.messages()[0]["body"]  # what the approver sees: package, metrics, smoke results, commands
    assert request["model_package_arn"] == package
    assert request["package"]["metrics"]["ModelQuality"]["Statistics"]["S3Uri"] == world.evaluation_uris[-1]
    assert request["smoke_test"]["passed"] is True
    assert {check["name"] for check in request["smoke_test"]["checks"]} >= {"status", "schema", "latency"}
    assert request["approve"].startswith(f"make approve-release ENV={CONFIG.name} TOKEN=")
    assert aws.clock.waits  # it polled the endpoints with Wait states
    assert failure_alerts(world) == []


def test_second_release_updates_prod_with_guardrails_and_keeps_the_previous_package(world, aws):
    first, second = world.register_package(), world.register_package()
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, first))["status"] == "SUCCEEDED"
    first_prod_config = world.endpoint_config("prod")
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, second))["status"] == "SUCCEEDED"

    assert world.served("prod") == [second, first]  # the history, newest first
    prod_update = next(c for c in aws.updates.calls if c["EndpointName"] == PROD)
    assert prod_update["EndpointConfigName"] != first_prod_config
    guardrails = prod_update["DeploymentConfig"]
    assert guardrails["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == (
        CONFIG.serving.prod.traffic_routing
    )
    assert {a["AlarmName"] for a in guardrails["AutoRollbackConfiguration"]["Alarms"]} == {
        f"{PROD}-5xx",
        f"{PROD}-model-errors",
        f"{PROD}-model-latency",
    }


def test_failed_staging_smoke_test_restores_staging_alerts_and_stops(world, aws):
    good, bad = world.register_package(), world.register_package()
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, good))["status"] == "SUCCEEDED"
    good_staging_config = world.endpoint_config("staging")
    prod_before = world.endpoint_config("prod")

    world.endpoint_answers(model_answer(correct=False))
    execution = world.finish(world.start("promotion", {"model_package_arn": bad, "mode": "release"}))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "StagingSmokeTestFailed"
    assert world.endpoint_config("staging") == good_staging_config  # back on the last good model
    assert world.endpoint_config("prod") == prod_before
    assert world.served("prod") == [good]
    assert world.served("staging") == [good]  # the failed rollout wrote no record
    (alert,) = failure_alerts(world)
    assert alert["error"] == "StagingSmokeTestFailed"
    assert bad in alert["cause"] and good_staging_config in alert["cause"]  # what failed and what serves now
    assert alert["execution"] == execution["executionArn"]
    assert "RequestApproval" not in world.visited(execution["executionArn"])[-20:]


def test_an_endpoint_slower_than_the_latency_budget_fails_the_staging_smoke_test(world, aws):
    """The handler's clock moves by the emulated endpoint's latency (tests/moto_patches.py EndpointClock), never by
    this machine's load: 50 ms passes dev's budget, a slower endpoint does not."""
    package = world.register_package()
    aws.endpoint_clock.latency_ms = CONFIG.serving.latency_budget_ms + 1
    world.endpoint_answers(model_answer())
    execution = world.finish(world.start("promotion", {"model_package_arn": package, "mode": "release"}))
    assert execution["status"] == "FAILED"
    assert execution["error"] == "StagingSmokeTestFailed"


def test_first_release_with_failing_smoke_test_deletes_the_new_staging_endpoint(world):
    package = world.register_package()
    world.endpoint_answers(model_answer(correct=False))
    execution = world.finish(world.start("promotion", {"model_package_arn": package, "mode": "release"}))
    assert execution["error"] == "StagingSmokeTestFailed"
    assert world.endpoint_config("staging") is None  # nothing good to go back to: no endpoint serves the bad model
    assert world.served("staging") == []


def test_rejection_stops_cleanly_and_leaves_prod_alone(world):
    package = world.register_package()
    world.endpoint_answers(model_answer())
    execution_arn = world.start("promotion", {"model_package_arn": package, "mode": "release"})
    release_cli.reject(CONFIG, world.approval_token(), "metrics below last release")  # `make reject-release`
    execution = world.finish(execution_arn)

    assert execution["status"] == "SUCCEEDED"
    assert world.visited(execution_arn)[-2:] == ["NotifyRejected", "Rejected"]
    assert world.endpoint_config("prod") is None
    assert world.served("prod") == []
    rejected = [m for m in world.messages() if m["subject"].endswith("release rejected")]
    # moto's SendTaskFailure drops the cause (AWS passes it on), so only the rejection itself is checked here.
    assert len(rejected) == 1 and "was rejected" in rejected[0]["body"] and package in rejected[0]["body"]


def test_approval_timeout_alerts_and_fails(world, aws):
    aws.clock.shorten[CONFIG.orchestration.approval_timeout_hours * 3600] = 1
    package = world.register_package()
    world.endpoint_answers(model_answer())
    execution = world.finish(world.start("promotion", {"model_package_arn": package, "mode": "release"}))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ApprovalTimedOut"
    assert world.endpoint_config("prod") is None
    assert [a["error"] for a in failure_alerts(world)] == ["ApprovalTimedOut"]


@pytest.mark.parametrize(
    ("status", "group"),
    [
        ("PendingManualApproval", NAMES.model_package_group),
        ("Rejected", NAMES.model_package_group),
        ("Approved", "someone-elses-models"),
    ],
)
def test_unapproved_or_foreign_package_is_refused(world, status, group):
    package = world.register_package(status=status, group=group)
    execution = world.finish(world.start("promotion", {"model_package_arn": package, "mode": "release"}))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "PackageRefused"
    assert world.sm.list_models()["Models"] == []
    assert world.endpoint_config("staging") is None
    assert [a["error"] for a in failure_alerts(world)] == ["PackageRefused"]


@pytest.mark.parametrize(
    "payload",
    [
        {"mode": "release"},
        {"model_package_arn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/titanic-dev-models/1"},
        {"model_package_arn": "x", "mode": "yolo"},
    ],
)
def test_malformed_input_is_refused_with_an_alert(world, payload):
    # Each missing field is tested explicitly: moto sends a Choice on a missing path to Default where AWS would fail;
    # the definition checks presence first (IsPresent), so both behave the same.
    execution = world.finish(world.start("promotion", payload))
    assert execution["error"] == "PackageRefused"
    assert len(failure_alerts(world)) == 1


def test_package_without_evaluation_metrics_is_refused(world):
    package = world.register_package(with_metrics=False)
    execution = world.finish(world.start("promotion", {"model_package_arn": package, "mode": "release"}))
    assert execution["error"] == "PackageRefused"
    assert world.sm.list_models()["Models"] == []


def test_missing_package_is_refused(world):
    missing = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/titanic-dev-models/99"
    execution = world.finish(world.start("promotion", {"model_package_arn": missing, "mode": "release"}))
    assert execution["error"] == "PackageRefused"


def test_guardrail_rollback_of_prod_alerts_and_keeps_the_previous_model(world, aws):
    first, second = world.register_package(), world.register_package()
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, first))["status"] == "SUCCEEDED"
    prod_before = world.endpoint_config("prod")

    aws.updates.roll_back.add(PROD)  # a guard alarm fires during the blue/green rollout
    world.endpoint_answers(model_answer())
    execution = world.finish(release(world, second))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ProdDeploymentFailed"
    assert world.endpoint_config("prod") == prod_before
    assert world.served("prod") == [first]
    assert [a["error"] for a in failure_alerts(world)] == ["ProdDeploymentFailed"]


def test_rollback_mode_redeploys_a_package_to_prod_without_staging_or_approval(world, aws):
    first, second = world.register_package(), world.register_package()
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, first))["status"] == "SUCCEEDED"
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, second))["status"] == "SUCCEEDED"
    staging_before = world.endpoint_config("staging")
    world.endpoint_answers(model_answer())

    request = {"model_package_arn": first, "mode": "rollback", "actor": "operator:alice", "reason": "v2 drifts"}
    execution = world.finish(world.start("promotion", request))

    assert execution["status"] == "SUCCEEDED"
    assert "RequestApproval" not in world.visited(execution["executionArn"])
    assert world.endpoint_config("staging") == staging_before
    assert world.served("prod") == [first, second, first]
    newest = world.records("prod")[0]
    assert (newest.mode, newest.actor, newest.reason) == ("rollback", "operator:alice", "v2 drifts")
    assert len(world.records("staging")) == 2  # a rollback does not touch staging


def test_failed_prod_smoke_test_restores_prod_to_the_last_good_model(world, aws):
    good, bad = world.register_package(), world.register_package()
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, good))["status"] == "SUCCEEDED"
    prod_before = world.endpoint_config("prod")

    world.endpoint_answers(model_answer(), model_answer(correct=False))  # staging passes, prod fails after rollout
    execution = world.finish(release(world, bad))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ProdSmokeTestFailed"
    assert world.endpoint_config("prod") == prod_before
    restore = aws.updates.calls[-1]
    assert restore == {  # back to the last good config, keeping the capacity autoscaling set
        "EndpointName": PROD,
        "EndpointConfigName": prod_before,
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DataCaptureConfig"}],
    }
    assert world.served("prod") == [good]  # the history still names the package prod serves
    assert [a["error"] for a in failure_alerts(world)] == ["ProdSmokeTestFailed"]
