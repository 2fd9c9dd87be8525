"""scripts/release.py (the operator commands) against moto and botocore's Stubber: what it calls, what it refuses."""

from __future__ import annotations

import json

import boto3
import pytest
import release
from botocore.stub import Stubber
from moto import mock_aws

from config import load_environment

CONFIG = load_environment("dev")
P = CONFIG.prefix
TAGS = [{"Key": "project", "Value": "titanic-sagemaker"}, {"Key": "env", "Value": "dev"}]


@pytest.fixture
def stubbed_sfn(monkeypatch):
    client = boto3.client("stepfunctions", region_name=CONFIG.region)
    monkeypatch.setattr(release, "_client", lambda service, config: client)
    with Stubber(client) as stubber:
        yield stubber


def test_approve_sends_task_success_with_the_approver(stubbed_sfn):
    output = json.dumps({"approved": True, "approved_by": "alice"})
    stubbed_sfn.add_response("send_task_success", {}, {"taskToken": "T0K", "output": output})
    assert "approved by alice" in release.approve(CONFIG, "T0K", "alice")


def test_reject_sends_the_error_the_workflow_catches(stubbed_sfn):
    expected = {"taskToken": "T0K", "error": "ReleaseRejected", "cause": "accuracy dropped (by dave)"}
    stubbed_sfn.add_response("send_task_failure", {}, expected)
    assert "prod is unchanged" in release.reject(CONFIG, "T0K", "accuracy dropped", "dave")


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _promotion_machine():
    sfn = boto3.client("stepfunctions", region_name=CONFIG.region)
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}})
    return sfn.create_state_machine(
        name=f"{P}-promotion", definition=definition, roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]


def test_rollback_starts_the_promotion_in_rollback_mode_with_the_previous_package(aws):
    ssm = boto3.client("ssm", region_name=CONFIG.region)
    previous = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{P}-models/3"
    ssm.put_parameter(Name=f"/{P}/serving/prod/previous-package", Value=previous, Type="String")
    arn = _promotion_machine()

    assert release.main(["rollback", "--env", "dev"]) == 0
    (execution,) = boto3.client("stepfunctions", region_name=CONFIG.region).list_executions(stateMachineArn=arn)[
        "executions"
    ]
    started = boto3.client("stepfunctions", region_name=CONFIG.region).describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(started["input"]) == {"model_package_arn": previous, "mode": "rollback"}


def test_rollback_without_a_previous_package_refuses(aws, capsys):
    ssm = boto3.client("ssm", region_name=CONFIG.region)
    ssm.put_parameter(Name=f"/{P}/serving/prod/previous-package", Value="none", Type="String")
    _promotion_machine()
    assert release.main(["rollback", "--env", "dev"]) == 1
    assert "nothing to go back to" in capsys.readouterr().err


def test_rollback_of_staging_is_refused(aws, capsys):
    assert release.main(["rollback", "--env", "dev", "--stage", "staging"]) == 1
    assert "only STAGE=prod" in capsys.readouterr().err


def _runtime_resources():
    sm = boto3.client("sagemaker", region_name=CONFIG.region)
    role = "arn:aws:iam::123456789012:role/endpoint"
    image = {"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"}
    for model, tags in ((f"{P}-old", TAGS), (f"{P}-live", TAGS), (f"{P}-foreign", []), ("other-app-model", TAGS)):
        sm.create_model(ModelName=model, ExecutionRoleArn=role, PrimaryContainer=image, Tags=tags)
    variant = {"VariantName": "AllTraffic", "InstanceType": "ml.t2.medium", "InitialInstanceCount": 1}
    for config_name, model in ((f"{P}-prod-old", f"{P}-old"), (f"{P}-prod-live", f"{P}-live")):
        sm.create_endpoint_config(
            EndpointConfigName=config_name, ProductionVariants=[{**variant, "ModelName": model}], Tags=TAGS
        )
    sm.create_endpoint(EndpointName=f"{P}-prod", EndpointConfigName=f"{P}-prod-live", Tags=TAGS)
    return sm


def test_cleanup_is_a_dry_run_by_default_and_lists_only_this_environments_tagged_resources(aws):
    sm = _runtime_resources()
    lines = []
    found = release.cleanup(CONFIG, "all", confirm=False, say=lines.append)

    assert {(f.kind, f.name) for f in found} == {
        ("endpoint", f"{P}-prod"),
        ("config", f"{P}-prod-old"),
        ("config", f"{P}-prod-live"),
        ("model", f"{P}-old"),
        ("model", f"{P}-live"),
    }
    assert lines[-1].startswith("dry run: nothing deleted")
    assert len(sm.list_models()["Models"]) == 4


def test_cleanup_of_configs_and_models_keeps_what_a_live_endpoint_uses(aws):
    sm = _runtime_resources()
    release.cleanup(CONFIG, "configs", confirm=True, say=lambda line: None)
    release.cleanup(CONFIG, "models", confirm=True, say=lambda line: None)

    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == [f"{P}-prod-live"]
    assert sorted(m["ModelName"] for m in sm.list_models()["Models"]) == sorted(
        [f"{P}-live", f"{P}-foreign", "other-app-model"]
    )
    assert sm.describe_endpoint(EndpointName=f"{P}-prod")["EndpointStatus"] == "InService"


def test_cleanup_all_with_confirmation_deletes_everything_of_this_environment_only(aws):
    sm = _runtime_resources()
    assert release.main(["cleanup", "--env", "dev", "--target", "all", "--confirm"]) == 0

    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sorted(m["ModelName"] for m in sm.list_models()["Models"]) == sorted([f"{P}-foreign", "other-app-model"])
