"""scripts/release_check.py (make release-check) under moto: the four release questions, PASS/FAIL per line, exit 1 on
any fail. Endpoints answer through moto's result queue, judged by the smoke Lambda's rules (scripts/endpoint_smoke)."""

from __future__ import annotations

import json

import boto3
import pytest
import release_check
import requests
from moto import mock_aws

from config import load_environment
from lambdas.smoke_test import handler
from ml.smoke import KNOWN_PASSENGERS
from tests.moto_patches import pipeline_statuses

ACCOUNT, REGION = "123456789012", "eu-west-1"
DEV, PROD = load_environment("dev"), load_environment("prod")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/titanic-dev-endpoint"


@pytest.fixture
def aws():
    handler._runtime = None  # the smoke Lambda module caches its client; each test gets one inside its own moto
    with mock_aws(), pipeline_statuses() as statuses:
        yield statuses
    handler._runtime = None


def _released(config, correct: bool = True) -> None:
    """Both stage endpoints in service, answering the smoke request (correctly or not), the pipeline run once."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for endpoint in config.names.endpoints.values():
        container = {"Image": "sklearn", "ModelDataUrl": "s3://artifacts/model.tar.gz"}
        sagemaker.create_model(ModelName=endpoint, ExecutionRoleArn=ROLE, PrimaryContainer=container)
        variant = {"VariantName": "AllTraffic", "ModelName": endpoint, "InstanceType": "ml.t2.medium"}
        sagemaker.create_endpoint_config(
            EndpointConfigName=endpoint, ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
        )
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    predictions = [{"survived": e if correct else 1 - e, "probability": 0.9} for _, e in KNOWN_PASSENGERS]
    result = {"Body": json.dumps({"predictions": predictions}), "ContentType": "application/json"}
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": ACCOUNT, "region": REGION, "results": [result, result]},
        timeout=5,
    )
    sagemaker.create_pipeline(PipelineName=config.names.pipeline, PipelineDefinition="{}", RoleArn=ROLE)
    sagemaker.start_pipeline_execution(PipelineName=config.names.pipeline)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for name in (f"{config.prefix}-prod-5xx", f"{config.prefix}-validate-data-errors"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")


def _budget(config, actual: float) -> None:
    boto3.client("budgets", region_name=REGION).create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": config.names.budget,
            "BudgetLimit": {"Amount": str(config.cost.monthly_budget_usd), "Unit": "USD"},
            "BudgetType": "COST",
            "TimeUnit": "MONTHLY",
            "CalculatedSpend": {"ActualSpend": {"Amount": str(actual), "Unit": "USD"}},
        },
    )


def test_a_healthy_release_passes_all_four(aws, capsys):
    _released(DEV)
    _budget(DEV, actual=12.5)
    assert release_check.main(["--env", "dev"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "release check of titanic-dev"
    assert [line.split()[:2] for line in lines[1:5]] == [
        ["PASS", "pipeline"],
        ["PASS", "smoke"],
        ["PASS", "alarms"],
        ["PASS", "budget"],
    ]
    assert "titanic-dev-training: last execution Succeeded" in lines[1]
    assert "titanic-dev-staging passed" in lines[2] and "titanic-dev-prod passed" in lines[2]
    assert "2 alarms, none in ALARM" in lines[3]
    assert "titanic-dev-monthly: $12.50 of $40.00" in lines[4]
    assert lines[5] == "release-check: 4 of 4 passed"


def test_each_question_can_fail_and_any_fail_exits_one(aws, capsys):
    aws.append("Failed")
    _released(PROD, correct=False)
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName="titanic-prod-prod-5xx", StateValue="ALARM", StateReason="test"
    )
    _budget(PROD, actual=PROD.cost.monthly_budget_usd + 1)
    assert release_check.main(["--env", "prod"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  pipeline  titanic-prod-training: last execution Failed" in out
    assert "FAIL  smoke     titanic-prod-staging FAILED" in out
    assert "FAIL  alarms    1 of 2 in ALARM: titanic-prod-prod-5xx" in out
    assert "FAIL  budget    titanic-prod-monthly: $901.00 of $900.00" in out
    assert out.rstrip().endswith("release-check: 0 of 4 passed")


def test_nothing_deployed_fails_except_sleeping_endpoints_in_dev(aws, capsys):
    assert release_check.main(["--env", "dev"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  pipeline  titanic-dev-training:" in out
    assert "PASS  smoke     titanic-dev-staging absent (asleep: endpoints sleep here, not tested)" in out
    assert "FAIL  alarms    no alarm named titanic-dev-*" in out
    assert "FAIL  budget    titanic-dev-monthly:" in out
    assert release_check.smoke(PROD).passed is False  # prod's endpoints do not sleep: absent is a failure
