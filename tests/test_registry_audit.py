"""The registry audit under moto: the synthesized audit rules route model package and promotion execution events to
the audit log group (and nothing else), and scripts/registry_audit.py prints who, what and when from it and from the
release records table (or says the table is not there)."""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
import registry_audit
from access_model.assembly import load_environments
from moto import mock_aws

from config import load_environment

CONFIG = load_environment("dev")
NAMES = CONFIG.names
ACCOUNT = "123456789012"  # moto's default account, also the access model's stand-in
GROUP_ARN = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/{NAMES.model_package_group}"
PROMOTION = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:{NAMES.promotion_state_machine}"
APPROVER = f"arn:aws:sts::{ACCOUNT}:assumed-role/titanic-dev-operator/alice"
NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def audit_rules(synthesis) -> list[dict]:
    """The audit rules of dev as deployed, references resolved (the account is moto's)."""
    (dev,) = [env for env in load_environments(synthesis.outdir) if env.name == "dev"]
    rules = [resource.properties for resource in dev.resources("AWS::Events::Rule")]
    audited = [rule for rule in rules if rule.get("Name", "").startswith(f"{NAMES.prefix}-audit-")]
    assert {rule["Name"] for rule in audited} == {
        NAMES.registry_audit_rule("packages"),
        NAMES.registry_audit_rule("releases"),
    }
    return audited


@pytest.fixture
def aws(audit_rules):
    with mock_aws():
        session = boto3.session.Session(region_name=CONFIG.region)
        session.client("logs").create_log_group(logGroupName=NAMES.registry_audit_log_group)
        events = session.client("events")
        for rule in audit_rules:
            events.put_rule(Name=rule["Name"], EventPattern=json.dumps(rule["EventPattern"]))
            events.put_targets(Rule=rule["Name"], Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in rule["Targets"]])
        yield session


def _publish(session, source: str, detail_type: str, detail: dict) -> None:
    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    assert session.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0


def _package(session, version: int, status: str, *, group: str = NAMES.model_package_group, modified_by=None):
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/{group}/{version}",
        "ModelApprovalStatus": status,
        "CreationTime": "2026-12-01T08:00:00Z",
    }
    if modified_by:
        detail |= {"LastModifiedTime": "2026-12-01T09:00:00Z", "LastModifiedBy": {"IamIdentity": {"Arn": modified_by}}}
        detail["ApprovalDescription"] = "accuracy 0.89 on the test split"
    _publish(session, "aws.sagemaker", "SageMaker Model Package State Change", detail)


def _execution(session, status: str, given: dict, result: dict | None = None, machine: str = PROMOTION, **extra):
    detail = {
        "executionArn": f"{machine.replace(':stateMachine:', ':execution:')}:run-1",
        "stateMachineArn": machine,
        "name": "run-1",
        "status": status,
        "input": json.dumps(given),
        "output": json.dumps(result) if result is not None else None,
        **extra,
    }
    _publish(session, "aws.states", "Step Functions Execution Status Change", detail)


def _report(session, since: str = "1d") -> str:
    """The printed report, each line's runs of spaces (column padding) squeezed to one."""
    lines = registry_audit.report(CONFIG, registry_audit.parse_since(since, NOW), session=session)
    return "\n".join(" ".join(line.split()) for line in lines)


def test_registry_and_release_changes_land_in_the_audit_log_with_who_what_and_when(aws):
    _package(aws, 3, "PendingManualApproval")
    _package(aws, 3, "Approved", modified_by=APPROVER)
    _package(aws, 4, "Rejected", modified_by=APPROVER)
    release = {"model_package_arn": f"{GROUP_ARN}/3", "mode": "release", "actor": "eventbridge:package-approved"}
    _execution(aws, "RUNNING", release)
    _execution(aws, "SUCCEEDED", release, {**release, "approval": {"approved": True, "approved_by": "bob"}})
    rollback = {"model_package_arn": f"{GROUP_ARN}/2", "mode": "rollback", "actor": "carol"}
    _execution(aws, "FAILED", rollback, error="States.TaskFailed", cause="endpoint update failed")
    _execution(aws, "SUCCEEDED", release, {**release, "rejection": {"Cause": "drift too high (by dave)"}})

    text = _report(aws)
    assert f"registry and release events ({NAMES.registry_audit_log_group}): 7" in text
    assert "titanic-dev-models v3 registered (PendingManualApproval)" in text
    assert f"{APPROVER} titanic-dev-models v3 approved: accuracy 0.89 on the test split" in text
    assert f"{APPROVER} titanic-dev-models v4 rejected" in text
    assert "eventbridge:package-approved release of v3 (run-1) started" in text
    assert "release of v3 (run-1) succeeded, approved by bob" in text
    assert "carol" in text and "rollback of v2 (run-1) FAILED: States.TaskFailed: endpoint update failed" in text
    assert "dave release of v3 (run-1) rejected at the approval gate: drift too high (by dave)" in text
    when = [line.split()[0] for line in text.splitlines() if line.startswith(NOW.strftime("%Y-"))]
    assert len(when) == 7
    assert when == sorted(when)  # the events' own times, oldest first


def test_only_this_environments_group_and_promotion_workflow_are_audited(aws):
    _package(aws, 1, "Approved", group="titanic-prod-models", modified_by=APPROVER)
    retraining = PROMOTION.replace("-promotion", "-retraining")
    _execution(aws, "RUNNING", {"mode": "release"}, machine=retraining)
    _publish(aws, "titanic-sagemaker.data", "DatasetValidated", {"key": "curated/titanic.csv"})
    text = _report(aws)
    assert f"registry and release events ({NAMES.registry_audit_log_group}): none" in text


def test_since_leaves_out_older_events(aws):
    logs = aws.client("logs")
    logs.create_log_stream(logGroupName=NAMES.registry_audit_log_group, logStreamName="old")
    old = NOW - datetime.timedelta(days=10)
    event = {
        "detail-type": "SageMaker Model Package State Change",
        "time": old.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {"ModelPackageGroupName": NAMES.model_package_group, "ModelApprovalStatus": "Approved"},
    }
    logs.put_log_events(
        logGroupName=NAMES.registry_audit_log_group,
        logStreamName="old",
        logEvents=[{"timestamp": int(old.timestamp() * 1000), "message": json.dumps(event)}],
    )
    assert ": none" in _report(aws, "1d").splitlines()[2]
    assert ": 1" in _report(aws, "30d").splitlines()[2]


def test_release_records_are_printed_and_a_missing_table_is_skipped(aws):
    assert f"release records ({NAMES.releases_table}): table not found (not deployed yet); skipped" in _report(aws)
    table = aws.resource("dynamodb").create_table(
        TableName=NAMES.releases_table,
        KeySchema=[{"AttributeName": "stage", "KeyType": "HASH"}, {"AttributeName": "released_at", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "stage", "AttributeType": "S"},
            {"AttributeName": "released_at", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    recent = registry_audit._iso(NOW - datetime.timedelta(hours=2))
    item = {"model_package_arn": f"{GROUP_ARN}/3", "package_version": 3, "endpoint_config_name": "titanic-dev-prod-r1"}
    table.put_item(
        Item={**item, "stage": "prod", "released_at": recent, "mode": "force", "actor": "erin", "reason": "hotfix"}
    )
    table.put_item(Item={**item, "stage": "staging", "released_at": "2020-01-01T00:00:00Z", "mode": "release"})
    text = _report(aws)
    assert f"release records ({NAMES.releases_table}): 1" in text
    assert f"{recent} erin prod serves v3 (force) on titanic-dev-prod-r1: hotfix" in text
    assert "2020-01-01" not in text


def test_a_missing_log_group_or_a_bad_since_is_an_error_without_a_traceback(capsys):
    with mock_aws():
        assert registry_audit.main(["--env", "dev"]) == 1
    assert "log group /aws/events/titanic-dev-registry-audit not found" in capsys.readouterr().err
    assert registry_audit.main(["--env", "dev", "--since", "last tuesday"]) == 1
    assert "expected 7d, 12h, 2026-11-01" in capsys.readouterr().err


def test_since_accepts_days_hours_dates_and_times():
    assert registry_audit.parse_since("7d", NOW) == NOW - datetime.timedelta(days=7)
    assert registry_audit.parse_since("12h", NOW) == NOW - datetime.timedelta(hours=12)
    assert registry_audit._iso(registry_audit.parse_since("2026-11-01", NOW)) == "2026-11-01T00:00:00Z"
    assert registry_audit._iso(registry_audit.parse_since("2026-11-01T08:30:00Z", NOW)) == "2026-11-01T08:30:00Z"
