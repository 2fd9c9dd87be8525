"""Phase 00: the foundation stack's resources, checked property by property in every environment."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from config import load_all_environments

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
        "aws:SourceArn": {
            "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":budgets::", {"Ref": "AWS::AccountId"}, ":*"]]
        }
    }


_LOGS_SID = "AllowCloudWatchLogsForThisEnvironment"


def test_cloudwatch_logs_may_use_the_key_only_for_this_environments_log_groups(foundation):
    config, template = foundation
    key = next(iter(template.find_resources("AWS::KMS::Key").values()))
    [statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == _LOGS_SID]
    assert statement["Principal"] == {"Service": f"logs.{config.region}.amazonaws.com"}
    condition = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition["Fn::Join"][1][-1] == f":log-group:{config.names.log_groups_pattern}"
