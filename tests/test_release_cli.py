"""scripts/release.py (the operator commands) against moto and botocore's Stubber: what it calls, what it refuses."""

from __future__ import annotations

import contextlib
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


def _history(*versions: int, modes: tuple[str, ...] = ()) -> list[dict]:
    """Release records of prod as DynamoDB items, oldest first (one per version; `modes` of the newest last)."""
    modes = ("release",) * (len(versions) - len(modes)) + tuple(modes)
    items = []
    for index, (version, mode) in enumerate(zip(versions, modes)):
        package = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{P}-models/{version}"
        items.append(
            {
                "stage": {"S": "prod"},
                "released_at": {"S": f"2026-12-0{index + 1}T10:00:00.000Z"},
                "model_package_arn": {"S": package},
                "package_version": {"N": str(version)},
                "model_name": {"S": f"{P}-{index}"},
                "endpoint_name": {"S": f"{P}-prod"},
                "endpoint_config_name": {"S": f"{P}-prod-{index}"},
                "mode": {"S": mode},
                "execution_arn": {"S": f"arn:aws:states:eu-west-1:123456789012:execution:{P}-promotion:{index}"},
                "actor": {"S": "eventbridge:package-approved"},
            }
        )
    return items


def _releases_table(items: list[dict]) -> None:
    client = boto3.client("dynamodb", region_name=CONFIG.region)
    client.create_table(
        TableName=CONFIG.names.releases_table,
        KeySchema=[{"AttributeName": "stage", "KeyType": "HASH"}, {"AttributeName": "released_at", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "stage", "AttributeType": "S"},
            {"AttributeName": "released_at", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in items:
        client.put_item(TableName=CONFIG.names.releases_table, Item=item)


def _started_input(arn: str) -> dict:
    sfn = boto3.client("stepfunctions", region_name=CONFIG.region)
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    return json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])


def test_rollback_starts_the_promotion_in_rollback_mode_with_the_release_before_the_current_one(aws):
    _releases_table(_history(1, 2, 3))
    arn = _promotion_machine()

    assert release.main(["rollback", "--env", "dev", "--actor", "alice", "--reason", "v3 drifts"]) == 0
    assert _started_input(arn) == {
        "model_package_arn": f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{P}-models/2",
        "mode": "rollback",
        "actor": "alice",
        "reason": "v3 drifts",
    }


def test_rollback_to_a_named_version_takes_its_newest_record(aws):
    _releases_table(_history(1, 2, 3))
    arn = _promotion_machine()
    assert release.main(["rollback", "--env", "dev", "--version", "1", "--actor", "bob"]) == 0
    assert _started_input(arn)["model_package_arn"].endswith("/1")


@pytest.mark.parametrize(
    ("items", "arguments", "refusal"),
    [
        ([], [], "no release record yet"),
        (_history(1), [], "served only version 1"),
        (_history(1, 2, 1, modes=("rollback",)), [], "Name the target"),  # default = the package rolled back from
        (_history(1, 2, 2), [], "served the same package"),
        (_history(1, 2), ["--version", "2"], "already serves version 2"),
        (_history(1, 2), ["--version", "5"], "version 5 never served prod"),
    ],
)
def test_rollback_refuses_when_the_history_names_no_target(aws, capsys, items, arguments, refusal):
    _releases_table(items)
    arn = _promotion_machine()
    assert release.main(["rollback", "--env", "dev", *arguments]) == 1
    assert refusal in capsys.readouterr().err
    assert (
        boto3.client("stepfunctions", region_name=CONFIG.region).list_executions(stateMachineArn=arn)["executions"]
        == []
    )


def test_the_releases_command_prints_each_stage_newest_first(aws, capsys):
    _releases_table(_history(1, 2))
    assert release.main(["releases", "--env", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "prod: 2 release(s)"
    assert [line.split()[1] for line in out[2:4]] == ["2", "1"]  # version column, newest first
    assert "staging: 0 release(s) (none yet)" in out


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


def _package(status: str = "Approved", group: str = f"{P}-models") -> str:
    sm = boto3.client("sagemaker", region_name=CONFIG.region)
    with contextlib.suppress(sm.exceptions.ClientError):  # the group is already there
        sm.create_model_package_group(ModelPackageGroupName=group)
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]


def test_release_starts_the_promotion_as_the_approval_event_does_with_the_operator_as_actor(aws):
    arn, package = _promotion_machine(), _package()
    assert CONFIG.names.model_package_group == f"{P}-models"
    assert release.main(["release", "--env", "dev", "--package", package, "--actor", "operator:carol"]) == 0
    assert _started_input(arn) == {"model_package_arn": package, "mode": "release", "actor": "operator:carol"}


def test_a_forced_release_by_version_number_sends_mode_force_and_the_reason(aws):
    arn, package = _promotion_machine(), _package()
    arguments = ["release", "--env", "dev", "--package", "1", "--force", "--reason", "hotfix", "--actor", "operator:d"]
    assert release.main(arguments) == 0
    assert _started_input(arn) == {
        "model_package_arn": package,
        "mode": "force",
        "actor": "operator:d",
        "reason": "hotfix",
    }


@pytest.mark.parametrize(
    ("status", "group", "arguments", "refusal"),
    [
        ("Approved", f"{P}-models", ["--force"], "say why with REASON="),
        ("PendingManualApproval", f"{P}-models", [], "only Approved packages"),
        ("Approved", "someone-elses-models", [], "only Approved packages"),
    ],
)
def test_release_refuses_before_starting_anything(aws, capsys, status, group, arguments, refusal):
    arn, package = _promotion_machine(), _package(status, group)
    assert release.main(["release", "--env", "dev", "--package", package, *arguments]) == 1
    assert refusal in capsys.readouterr().err
    sfn = boto3.client("stepfunctions", region_name=CONFIG.region)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
