"""The orphan report (lambdas/orphan_report/) under moto: the real handler finds what no release record references,
publishes it to the alerts topic and deletes nothing; `make orphans` (scripts/orphans.py) prints the same report."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import boto3
import orphans as orphans_cli
import pytest
from moto import mock_aws

from config import load_environment
from lambdas.orphan_report import orphans
from tests.moto_patches import created_days_ago, job_in_progress, mlflow_listing

ACCOUNT, REGION = "123456789012", "eu-west-1"
CONFIG = load_environment("dev")
NAMES = CONFIG.names
HANDLER = Path(__file__).resolve().parents[2] / "lambdas" / "orphan_report" / "handler.py"
CONTEXT = SimpleNamespace(
    function_name="titanic-dev-orphan-report", memory_limit_in_mb=256, invoked_function_arn="a", aws_request_id="r"
)
TAGS = [{"Key": key, "Value": value} for key, value in CONFIG.mandatory_tags.items()]
ROLE = f"arn:aws:iam::{ACCOUNT}:role/titanic-dev-endpoint"


def _record(dynamodb, stage: str, when: str, release: str) -> None:
    """One release record as the promotion workflow writes it (low-level attribute values)."""
    item = {
        "stage": stage,
        "released_at": when,
        "model_package_arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/titanic-dev-models/{release[-1]}",
        "package_version": release[-1],  # a number (N)
        "model_name": f"titanic-dev-{release}",
        "endpoint_name": NAMES.endpoint(stage),
        "endpoint_config_name": f"titanic-dev-{stage}-{release}",
        "mode": "release",
        "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:titanic-dev-promotion:x",
        "actor": "eventbridge:package-approved",
    }
    typed = {key: ({"N": value} if key == "package_version" else {"S": value}) for key, value in item.items()}
    dynamodb.put_item(TableName=NAMES.releases_table, Item=typed)


def _hosting(
    sagemaker, model: str, config: str | None = None, endpoint: str | None = None, tags=TAGS, new_model=True
) -> None:
    if new_model:
        container = {"Image": "sklearn", "ModelDataUrl": "s3://artifacts/model.tar.gz"}
        sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer=container, Tags=tags)
    if config:
        variant = {"VariantName": "AllTraffic", "ModelName": model, "InstanceType": "ml.t2.medium"}
        sagemaker.create_endpoint_config(
            EndpointConfigName=config, ProductionVariants=[{**variant, "InitialInstanceCount": 1}], Tags=TAGS
        )
    if endpoint:
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config, Tags=TAGS)


@pytest.fixture
def world(monkeypatch):
    """Two releases recorded (prod r1 then r2, staging r2) and, beside what they use, an endpoint nobody released, an
    unused config and model, a model without cost_center, a job still running after its pipeline run, a tracking
    server the configuration does not deploy, an account-wide job log group kept forever."""
    with mock_aws(), mlflow_listing(servers=("titanic-dev-mlflow-old", "someone-elses-server")):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=NAMES.releases_table,
            KeySchema=[
                {"AttributeName": "stage", "KeyType": "HASH"},
                {"AttributeName": "released_at", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "stage", "AttributeType": "S"},
                {"AttributeName": "released_at", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        _record(dynamodb, "prod", "2026-11-01T10:00:00Z", "r1")
        _record(dynamodb, "prod", "2026-11-20T10:00:00Z", "r2")
        _record(dynamodb, "staging", "2026-11-19T10:00:00Z", "r2")
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        _hosting(sagemaker, "titanic-dev-r1", "titanic-dev-prod-r1")
        _hosting(sagemaker, "titanic-dev-r2", "titanic-dev-prod-r2", NAMES.endpoint("prod"))
        _hosting(sagemaker, "titanic-dev-r2", "titanic-dev-staging-r2", NAMES.endpoint("staging"), new_model=False)
        _hosting(sagemaker, "titanic-dev-r0", "titanic-dev-staging-r0")  # superseded: nothing uses them
        _hosting(sagemaker, "titanic-dev-manual", "titanic-dev-manual", "titanic-dev-manual")  # never released
        _hosting(sagemaker, "titanic-dev-untagged", tags=[t for t in TAGS if t["Key"] != "cost_center"])
        prod_tags = [{**t, "Value": "prod"} if t["Key"] == "env" else t for t in TAGS]
        _hosting(sagemaker, "titanic-prod-r9", tags=prod_tags)  # another environment's: not ours
        sagemaker.create_pipeline(PipelineName=NAMES.pipeline, PipelineDefinition="{}", RoleArn=ROLE)
        execution = sagemaker.start_pipeline_execution(PipelineName=NAMES.pipeline)["PipelineExecutionArn"]
        sagemaker.create_training_job(
            TrainingJobName="pipelines-abc123-TrainModel-x1",
            AlgorithmSpecification={"TrainingImage": "sklearn", "TrainingInputMode": "File"},
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/titanic-dev-sagemaker-execution",
            OutputDataConfig={"S3OutputPath": "s3://artifacts/pipelines"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
            Tags=[{"Key": orphans.PIPELINE_EXECUTION_TAG, "Value": execution}],
        )
        job_in_progress("training", "pipelines-abc123-TrainModel-x1")
        logs = boto3.client("logs", region_name=REGION)
        logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
        logs.create_log_group(logGroupName="/aws/sagemaker/ProcessingJobs")
        logs.put_retention_policy(logGroupName="/aws/sagemaker/ProcessingJobs", retentionInDays=30)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name=NAMES.alerts_topic)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        for name, value in _lambda_environment(topic).items():
            monkeypatch.setenv(name, value)
        yield SimpleNamespace(sagemaker=sagemaker, sqs=sqs, queue=queue)


def _lambda_environment(topic: str) -> dict[str, str]:
    """The variables the observability stack sets (stacks/cost_governance.py), from the synthesized dev template's
    values as config gives them."""
    settings = orphans_cli.settings_for(CONFIG)
    return {
        "ENVIRONMENT_NAME": settings.environment,
        "PROJECT": settings.project,
        "NAME_PREFIX": settings.name_prefix,
        "RELEASES_TABLE": settings.releases_table,
        "PIPELINE_NAME": settings.pipeline_name,
        "EXPECTED_MLFLOW_SERVERS": ",".join(settings.expected_mlflow_servers),
        "MLFLOW_APPS_EXPECTED": "true" if settings.mlflow_apps_expected else "false",
        "MANDATORY_TAGS": ",".join(settings.mandatory_tags),
        "IDLE_DAYS": str(settings.idle_days),
        "JOB_LOG_GROUPS": ",".join(settings.job_log_groups),
        "LOG_RETENTION_DAYS": str(settings.log_retention_days),
        "ALERTS_TOPIC_ARN": topic,
        "RUNBOOK": "Runbook: docs/runbooks/orphan-found.md",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def _handler():
    spec = importlib.util.spec_from_file_location("orphan_report_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _published(world) -> list[dict]:
    messages = world.sqs.receive_message(QueueUrl=world.queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


EXPECTED = [
    ("endpoint", "titanic-dev-manual", True),
    ("endpoint-config", "titanic-dev-staging-r0", False),
    ("job", "pipelines-abc123-TrainModel-x1", True),
    ("log-retention", "/aws/sagemaker/TrainingJobs", True),
    ("mlflow", "titanic-dev-mlflow-old", True),
    ("model", "titanic-dev-r0", False),
    ("model", "titanic-dev-untagged", False),
    ("tags", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/titanic-dev-untagged", False),
]


def test_the_handler_reports_what_no_release_record_references_and_deletes_nothing(world):
    before = sorted(m["ModelName"] for m in world.sagemaker.list_models()["Models"])
    result = _handler()({"trigger": "schedule"}, CONTEXT)

    assert [(f["kind"], f["name"], f["costs_money"]) for f in result["findings"]] == EXPECTED
    assert sorted(m["ModelName"] for m in world.sagemaker.list_models()["Models"]) == before
    (message,) = _published(world)
    assert message["Subject"] == "titanic dev: 8 orphan finding(s), 4 billed"
    assert "titanic-dev-manual" in message["Message"] and "no release record names this endpoint" in message["Message"]
    assert "make cleanup ENV=dev" in message["Message"]
    assert message["Message"].endswith("Runbook: docs/runbooks/orphan-found.md")
    assert result["message_id"] == message["MessageId"]


def test_the_prod_rollback_target_is_kept_and_a_stage_serving_another_config_is_reported(world):
    # moto has no UpdateEndpoint: the staging endpoint is recreated on another config instead.
    world.sagemaker.delete_endpoint(EndpointName=NAMES.endpoint("staging"))
    world.sagemaker.create_endpoint(EndpointName=NAMES.endpoint("staging"), EndpointConfigName="titanic-dev-staging-r0")
    report = orphans.find(orphans_cli.clients_for(CONFIG), orphans_cli.settings_for(CONFIG))
    found = {(f.kind, f.name): f.reason for f in report.findings}
    assert ("endpoint-config", "titanic-dev-prod-r1") not in found  # prod's rollback target
    assert ("model", "titanic-dev-r1") not in found
    assert found[("endpoint", "titanic-dev-staging")] == (
        "serves titanic-dev-staging-r0; its release record says titanic-dev-staging-r2"
    )
    assert ("endpoint-config", "titanic-dev-staging-r0") not in found  # in use, even if by the wrong endpoint


def test_an_endpoint_without_invocations_for_the_idle_window_is_reported(world):
    days = CONFIG.cost.orphan_idle_days
    for name in ("titanic-dev-manual", NAMES.endpoint("staging"), NAMES.endpoint("prod")):
        created_days_ago(name, days + 1)
    dimensions = [
        {"Name": "EndpointName", "Value": NAMES.endpoint("prod")},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    invoked = {"MetricName": "Invocations", "Dimensions": dimensions, "Value": 12, "Timestamp": an_hour_ago}
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="AWS/SageMaker", MetricData=[invoked])
    result = _handler()({"trigger": "schedule"}, CONTEXT)
    idle = [(f["name"], f["reason"]) for f in result["findings"] if f["kind"] == "idle-endpoint"]
    reason = f"zero invocations in {days} days while in service"
    assert idle == [("titanic-dev-manual", reason), ("titanic-dev-staging", reason)]  # prod was invoked


def test_no_release_yet_and_no_table_are_tolerated(world, capsys):
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=NAMES.releases_table)
    report = orphans.find(orphans_cli.clients_for(CONFIG), orphans_cli.settings_for(CONFIG))
    assert report.notes == ["release records table titanic-dev-releases not found: nothing is referenced"]
    assert ("endpoint", "titanic-dev-prod") in {(f.kind, f.name) for f in report.findings}
    assert orphans_cli.main(["--env", "dev"]) == 0
    printed = capsys.readouterr().out
    assert "titanic-dev-prod" in printed and "nothing was deleted" in printed


def test_nothing_found_publishes_nothing(monkeypatch):
    with mock_aws(), mlflow_listing():
        sns = boto3.client("sns", region_name=REGION)
        monkeypatch.setenv("ALERTS_TOPIC_ARN", sns.create_topic(Name="alerts")["TopicArn"])
        for name, value in _lambda_environment("").items():
            if name != "ALERTS_TOPIC_ARN":
                monkeypatch.setenv(name, value)
        result = _handler()({}, CONTEXT)
    assert result["findings"] == [] and result["message_id"] is None
    assert result["notes"] == ["release records table titanic-dev-releases not found: nothing is referenced"]
