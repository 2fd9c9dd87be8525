"""Phase 00: the foundation stack's resources, checked property by property in every environment."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from app import FEATURE_FLAGS
from config import load_all_environments, load_environment
from stacks.foundation import FoundationStack

CONFIGS = load_all_environments()


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def foundation(request, synthesis):
    config = request.param
    return config, Template.from_json(synthesis.stacks[config.names.stack("foundation")].template)


def test_customer_managed_key_rotates(foundation):
    config, template = foundation
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/{config.prefix}"})


def test_data_retention_follows_the_environment(foundation):
    config, template = foundation
    policy = "Retain" if config.data_removal_policy == "retain" else "Delete"
    for resource_type in ("AWS::KMS::Key", "AWS::S3::Bucket"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == policy, resource_type


def test_buckets_are_versioned_private_and_expire_old_versions(foundation):
    config, template = foundation
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
        assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
            "NoncurrentDays": config.storage.noncurrent_version_expiration_days
        }


def test_artifacts_bucket_uses_the_key_and_logs_access(foundation):
    _, template = foundation
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
                        },
                    }
                ]
            },
            "LoggingConfiguration": {"DestinationBucketName": Match.any_value(), "LogFilePrefix": "artifacts/"},
        },
    )


def test_mlflow_artifact_store_keeps_overwritten_and_deleted_artifacts_as_long_as_the_config_says(foundation):
    config, template = foundation
    (artifacts,) = [
        bucket["Properties"]
        for bucket in template.find_resources("AWS::S3::Bucket").values()
        if bucket["Properties"].get("LoggingConfiguration", {}).get("LogFilePrefix") == "artifacts/"
    ]
    rules = {rule["Id"]: rule for rule in artifacts["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-noncurrent-mlflow-artifacts"] == {
        "Id": "expire-noncurrent-mlflow-artifacts",
        "Prefix": "mlflow/",
        "NoncurrentVersionExpiration": {"NoncurrentDays": config.mlflow.artifact_noncurrent_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "ExpiredObjectDeleteMarker": True,
        "Status": "Enabled",
    }
    # No rule expires current versions under mlflow/: a finished run's artifacts are its record.
    assert not [r for r in rules.values() if "ExpirationInDays" in r and r.get("Prefix", "mlflow/") == "mlflow/"]
    # S3 honours the shorter of overlapping expirations: the bucket-wide rule must not cut MLflow's retention.
    assert (
        config.mlflow.artifact_noncurrent_days
        <= rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"]
    )


def test_access_log_bucket_expires_logs(foundation):
    config, template = foundation
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"Id": "expire-access-logs", "ExpirationInDays": config.storage.access_log_expiration_days}
                        )
                    ]
                )
            }
        },
    )


def test_every_bucket_denies_plain_http(foundation):
    _, template = foundation
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        )


def test_alerts_topic_is_encrypted_tls_only_and_mails_the_configured_address(foundation):
    config, template = foundation
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "TopicName": config.names.alerts_topic,
            "KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
        },
    )
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": config.alert_email})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_only_alarm_event_and_budget_services_of_this_account_may_use_the_key_besides_the_account(foundation):
    _, template = foundation
    key = next(iter(template.find_resources("AWS::KMS::Key").values()))
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    service_statements = [s for s in statements if "Service" in s["Principal"] and s.get("Sid") != _LOGS_SID]
    assert len(service_statements) == 2
    publishers, budgets = service_statements
    assert sorted(publishers["Principal"]["Service"]) == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    assert publishers["Action"] == budgets["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert publishers["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # Budgets notify the encrypted alerts topic (phase 07): only this account's budgets.
    assert budgets["Sid"] == "AllowBudgetsToUseTheKeyForAlerts"
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert budgets["Condition"]["ArnLike"] == {
        "aws:SourceArn": [
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":budgets::", {"Ref": "AWS::AccountId"}, ":*"]]}
        ]
    }


_LOGS_SID = "AllowCloudWatchLogsForThisEnvironment"


def test_cloudwatch_logs_may_use_the_key_only_for_this_environments_log_groups(foundation):
    config, template = foundation
    key = next(iter(template.find_resources("AWS::KMS::Key").values()))
    [statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == _LOGS_SID]
    assert statement["Principal"] == {"Service": f"logs.{config.region}.amazonaws.com"}
    condition = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition["Fn::Join"][1][-1] == f":log-group:{config.names.log_groups_pattern}"


def _publishers(template: Template) -> dict[str, dict]:
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    return {
        s["Principal"]["Service"]: s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    }


def test_only_this_environments_alarms_and_this_accounts_budgets_may_publish_to_the_alerts_topic(foundation):
    config, template = foundation
    publishers = _publishers(template)
    assert set(publishers) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    assert publishers["budgets.amazonaws.com"]["Sid"] == "AllowBudgetsToPublish"
    statement = publishers["cloudwatch.amazonaws.com"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (pattern,) = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    assert pattern["Fn::Join"][1][-1] == f":alarm:{config.prefix}-*"


def test_a_later_phase_lets_another_service_publish_through_the_foundation_helper():
    app = App(context=FEATURE_FLAGS)
    stack = FoundationStack(app, "titanic-dev-foundation", config=load_environment("dev"))
    stack.outputs.allow_service_to_publish("scheduler.amazonaws.com", "arn:aws:scheduler:eu-west-1:123456789012:*")
    template = Template.from_stack(stack)
    scheduler = _publishers(template)["scheduler.amazonaws.com"]
    assert scheduler["Sid"] == "AllowSchedulerToPublish"
    assert scheduler["Condition"]["ArnLike"] == {"aws:SourceArn": ["arn:aws:scheduler:eu-west-1:123456789012:*"]}
    key = next(iter(template.find_resources("AWS::KMS::Key").values()))
    [key_statement] = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowSchedulerToUseTheKeyForAlerts"
    ]
    assert key_statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert key_statement["Condition"] == scheduler["Condition"]
    with pytest.raises(ValueError, match="ARN pattern"):
        stack.outputs.allow_service_to_publish("events.amazonaws.com")


def test_log_delivery_into_the_access_log_bucket_is_conditioned_on_this_account_and_the_source_buckets(foundation):
    config, template = foundation
    (policy,) = [
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if "AccessLogs" in json.dumps(p["Properties"]["Bucket"])
    ]
    deliveries = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(deliveries) == 2  # the artifacts bucket (same stack) and the data bucket (data stack)
    for statement in deliveries:
        assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert statement["Condition"]["ArnLike"]["aws:SourceArn"]
    data = next(s for s in deliveries if json.dumps(s["Resource"]).endswith('/data/*"]]}'))
    assert data["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1][-1] == f":s3:::{config.names.stack('data')}-*"
