"""Phase 04: the serving stack's durable pieces, in every environment."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from config import load_all_environments
from config.names import VARIANT_NAME

CONFIGS = load_all_environments()


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def serving(request, synthesis):
    config = request.param
    return config, Template.from_json(synthesis.stacks[config.names.stack("serving")].template)


def test_endpoint_role_is_for_sagemaker_only_and_pulls_only_the_sklearn_image(serving):
    config, template = serving
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": config.names.endpoint_role,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
                ]
            },
        },
    )
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["PullTheScikitLearnServingImage"]["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, f":ecr:{config.region}:141502667606:repository/sagemaker-scikit-learn"],
        ]
    }
    assert statements["PublishEndpointMetrics"]["Condition"]
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(action != "*" and not action.endswith(":*") for action in actions)


def test_guard_alarms_watch_the_prod_variant_and_alert(serving):
    config, template = serving
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    prod = config.names.endpoint("prod")
    assert sorted(a["Properties"]["AlarmName"] for a in alarms.values()) == sorted(
        [f"{prod}-5xx", f"{prod}-model-errors", f"{prod}-model-latency"]
    )
    for alarm in alarms.values():
        properties = alarm["Properties"]
        assert properties["Namespace"] == "AWS/SageMaker"
        assert {d["Name"]: d["Value"] for d in properties["Dimensions"]} == {
            "EndpointName": prod,
            "VariantName": VARIANT_NAME,
        }
        assert properties["Period"] == 60
        assert properties["TreatMissingData"] == "notBreaching"
        assert len(properties["AlarmActions"]) == 1
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ModelLatency", "Threshold": config.serving.max_model_latency_ms * 1000},
    )


def test_the_endpoint_role_reads_only_model_archives_and_serving_code_of_the_pipeline(serving):
    config, template = serving
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    read = statements["ReadModelArtifacts"]
    assert read["Action"] == "s3:GetObject"
    keys = sorted(resource["Fn::Join"][1][-1] for resource in read["Resource"])
    prefix = config.names.pipeline_artifacts_prefix
    assert keys == [f"/{prefix}/*/model/*", f"/{prefix}/*/serving-code/*"]  # not MLflow runs, not captured traffic


def test_release_records_are_one_table_owned_by_cloudformation_never_its_items(serving):
    config, template = serving
    assert not template.find_resources("AWS::SSM::Parameter")  # runtime state lives in no rewritten resource
    (table,) = template.find_resources("AWS::DynamoDB::Table").values()
    properties = table["Properties"]
    assert properties["TableName"] == config.names.releases_table == f"{config.prefix}-releases"
    assert properties["KeySchema"] == [
        {"AttributeName": "stage", "KeyType": "HASH"},
        {"AttributeName": "released_at", "KeyType": "RANGE"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["SSEType"] == "KMS"
    assert "Fn::ImportValue" in json.dumps(properties["SSESpecification"]["KMSMasterKeyId"])  # the environment key
    assert properties["DeletionProtectionEnabled"] is (not config.destroy_on_delete)
    assert table["DeletionPolicy"] == ("Delete" if config.destroy_on_delete else "Retain")
