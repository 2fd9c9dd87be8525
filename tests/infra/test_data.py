"""Phase 01: the data stack's resources, checked property by property in every environment.

The validation role's permissions are compared statement by statement: a new permission fails here until it is
reviewed and added to EXPECTED_VALIDATOR_PERMISSIONS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from app import create_app
from config import load_all_environments, load_environment
from config.names import DATASET_EVENT_DETAIL_TYPE, DATASET_EVENT_SOURCE
from constructs.python_function import powertools_layer_parameter

CONFIGS = load_all_environments()
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def data(request, synthesis):
    config = request.param
    return config, Template.from_json(synthesis.stacks[config.names.stack("data")].template)


def _resource(template: Template, resource_type: str, **properties) -> tuple[str, dict]:
    found = template.find_resources(resource_type, {"Properties": properties} if properties else None)
    assert len(found) == 1, (resource_type, properties, list(found))
    return next(iter(found.items()))


def _bucket_id(template: Template) -> str:
    return _resource(template, "AWS::S3::Bucket")[0]


def _function(template: Template, suffix: str) -> tuple[str, dict]:
    functions = template.find_resources("AWS::Lambda::Function")
    matches = [(k, v) for k, v in functions.items() if v["Properties"]["FunctionName"].endswith(suffix)]
    assert len(matches) == 1
    return matches[0]


def _policy_of(template: Template, function: dict) -> list[dict]:
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    assert len(policies) == 1
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def _describe(resource) -> str:
    """A readable name for a policy resource: `bucket/raw/*`, `key`, `topic`, `*`, ..."""
    text = json.dumps(resource, sort_keys=True)
    if resource == "*":
        return "*"
    if "DataBucket" in text:
        suffix = resource["Fn::Join"][1][-1] if "Fn::Join" in resource else ""
        return "bucket" + suffix
    for marker, name in (
        ("Key961B73FD", "key"),
        ("Alerts", "topic"),
        ("event-bus/default", "default-bus"),
        ("DeadLetters", "dlq"),
        ("Logs", "log-group"),
        ("cdk-hnb659fds-assets", "seed-asset"),
    ):
        if marker in text:
            return name
    raise AssertionError(f"unexpected resource {text}")


def _permissions(statements: list[dict]) -> set[tuple[str, str]]:
    pairs = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        pairs |= {(action, _describe(resource)) for action in actions for resource in resources}
    return pairs


# What every PowertoolsFunction's role holds: its log group, its dead-letter queue, the key, X-Ray.
FUNCTION_BASE_PERMISSIONS = {
    ("logs:CreateLogStream", "log-group"),
    ("logs:PutLogEvents", "log-group"),
    ("sqs:SendMessage", "dlq"),
    ("kms:Decrypt", "key"),
    ("kms:GenerateDataKey", "key"),
    ("xray:PutTraceSegments", "*"),
    ("xray:PutTelemetryRecords", "*"),
}

EXPECTED_VALIDATOR_PERMISSIONS = {
    *FUNCTION_BASE_PERMISSIONS,
    ("s3:GetObject", "bucket/raw/*"),
    ("s3:GetObjectVersion", "bucket/raw/*"),
    ("s3:ListBucket", "bucket"),
    *{
        (action, f"bucket/{prefix}/*")
        for action in ("s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging")
        for prefix in ("curated", "quarantine")
    },
    ("events:PutEvents", "default-bus"),
    ("sns:Publish", "topic"),
}


def test_one_bucket_holds_the_three_areas_encrypted_versioned_private_and_logged(data):
    _, template = data
    _, bucket = _resource(template, "AWS::S3::Bucket")
    properties = bucket["Properties"]
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["BucketKeyEnabled"] is True
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "Key961B73FD" in json.dumps(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "data/"
    assert "AccessLogs" in json.dumps(properties["LoggingConfiguration"]["DestinationBucketName"])
    assert properties["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_lifecycle_rules_come_from_the_configuration(data):
    config, template = data
    _, bucket = _resource(template, "AWS::S3::Bucket")
    rules = {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": config.storage.noncurrent_version_expiration_days
    }
    for area in ("raw", "curated", "quarantine"):
        assert rules[f"expire-{area}"]["Prefix"] == f"{area}/"
        assert rules[f"expire-{area}"]["ExpirationInDays"] == getattr(config.data, f"{area}_expiration_days")


def test_data_is_retained_in_prod_and_may_be_destroyed_in_dev(data):
    config, template = data
    policy = "Retain" if config.data_removal_policy == "retain" else "Delete"
    for resource_type in ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::SQS::Queue"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == policy, resource_type


def test_bucket_denies_plain_http(data):
    _, template = data
    _, policy = _resource(template, "AWS::S3::BucketPolicy")
    assert any(
        s["Effect"] == "Deny" and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_objects_created_under_raw_invoke_the_validator_with_retries_and_a_dead_letter_queue(data):
    _, template = data
    function_id, _ = _function(template, "-validate-data")
    _, rule = _resource(template, "AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": "raw/"}]}
    assert pattern["detail"]["bucket"] == {"name": [{"Ref": _bucket_id(template)}]}
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert "DeadLetters" in json.dumps(target["DeadLetterConfig"])


def test_the_validator_runs_with_powertools_tracing_and_its_configuration(data):
    config, template = data
    _, function = _function(template, "-validate-data")
    properties = function["Properties"]
    assert properties["FunctionName"] == config.names.validate_data_function
    assert (properties["Runtime"], properties["Architectures"]) == ("python3.13", ["arm64"])
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["MemorySize"] == config.data.validation_memory_mb
    assert properties["Timeout"] == config.data.validation_timeout_seconds
    assert "ReservedConcurrentExecutions" not in properties  # works on a new account (docs/01: concurrency quota)
    assert "Key961B73FD" in json.dumps(properties["KmsKeyArn"])  # environment variables: the foundation key
    [layer] = properties["Layers"]
    assert layer == f"{{{{resolve:ssm:{powertools_layer_parameter()}}}}}"  # the layer of the tested version
    assert "DeadLetters" in json.dumps(properties["DeadLetterConfig"])
    variables = properties["Environment"]["Variables"]
    assert variables["DATA_BUCKET"] == {"Ref": _bucket_id(template)}
    assert {name: variables[name] for name in ("RAW_PREFIX", "CURATED_PREFIX", "QUARANTINE_PREFIX")} == {
        "RAW_PREFIX": "raw/",
        "CURATED_PREFIX": "curated/",
        "QUARANTINE_PREFIX": "quarantine/",
    }
    assert (variables["EVENT_SOURCE"], variables["EVENT_DETAIL_TYPE"], variables["EVENT_BUS_NAME"]) == (
        DATASET_EVENT_SOURCE,
        DATASET_EVENT_DETAIL_TYPE,
        "default",
    )
    assert "Alerts" in json.dumps(variables["ALERTS_TOPIC_ARN"])
    assert variables["MAX_OBJECT_BYTES"] == str(config.data.max_object_mb * 1024 * 1024)
    assert variables["POWERTOOLS_SERVICE_NAME"] == config.names.validate_data_function


def test_lambda_log_groups_are_encrypted_and_expire(data):
    config, template = data
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert sorted(g["Properties"]["LogGroupName"] for g in groups.values()) == [
        f"/aws/lambda/{config.prefix}-seed-data",
        f"/aws/lambda/{config.prefix}-validate-data",
    ]
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days
        assert "Key961B73FD" in json.dumps(group["Properties"]["KmsKeyId"])


def test_dead_letter_queues_are_encrypted_and_tls_only(data):
    _, template = data
    for queue in template.find_resources("AWS::SQS::Queue").values():
        assert "Key961B73FD" in json.dumps(queue["Properties"]["KmsMasterKeyId"])
    for policy in template.find_resources("AWS::SQS::QueuePolicy").values():
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )


def test_the_validator_role_has_exactly_the_reviewed_permissions(data):
    _, template = data
    _, function = _function(template, "-validate-data")
    statements = _policy_of(template, function)
    assert _permissions(statements) == EXPECTED_VALIDATOR_PERMISSIONS
    assert not any("*" in action for s in statements for action in s["Action"] if isinstance(s["Action"], list))
    [listing] = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["curated/*", "quarantine/*"]}}
    [publish] = [s for s in statements if s["Action"] == "events:PutEvents"]
    # events:source is multivalued in IAM: a plain StringEquals on it never matches (the access model proves it).
    assert publish["Condition"] == {
        "ForAllValues:StringEquals": {"events:source": [DATASET_EVENT_SOURCE]},
        "Null": {"events:source": "false"},
    }
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_the_seed_resource_copies_the_bundled_csv_into_raw_after_the_validator_exists(data):
    _, template = data
    _, function = _function(template, "-seed-data")
    assert _permissions(_policy_of(template, function)) == {
        *FUNCTION_BASE_PERMISSIONS,
        ("s3:GetObject", "seed-asset"),
        ("s3:PutObject", "bucket/raw/titanic.csv"),
    }
    seeds = template.find_resources("Custom::SeedData")
    assert len(seeds) == 1
    seed = next(iter(seeds.values()))
    assert seed["Properties"]["DestinationKey"] == "raw/titanic.csv"
    assert seed["Properties"]["DestinationBucket"] == {"Ref": _bucket_id(template)}
    assert seed["Properties"]["SourceKey"].endswith(".csv")
    rule_id, _ = _resource(template, "AWS::Events::Rule")
    validator_id, _ = _function(template, "-validate-data")
    assert {rule_id, validator_id} <= set(seed["DependsOn"])


def test_the_validator_asset_holds_the_handler_and_the_shared_schema_and_nothing_else(data, synthesis):
    _, template = data
    _, function = _function(template, "-validate-data")
    asset = synthesis.outdir / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    files = sorted(str(path.relative_to(asset)) for path in asset.rglob("*") if path.is_file())
    assert files == ["handler.py", "ml/__init__.py", "ml/schema.py", "requirements.txt"]
    assert (asset / "ml/schema.py").read_bytes() == (ROOT / "ml/schema.py").read_bytes()
    assert (asset / "handler.py").read_bytes() == (ROOT / "lambdas/validate_data/handler.py").read_bytes()
    # The packaged schema must import with the standard library alone (-S: no site-packages), as in the Lambda;
    # -B: the import writes no __pycache__ into the assembly's asset.
    check = "from ml.schema import validate_csv_bytes; print(validate_csv_bytes(b'PassengerId\\n1\\n')[1].valid)"
    result = subprocess.run([sys.executable, "-S", "-B", "-c", check], cwd=asset, capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "False"), result.stderr


def test_outputs_give_later_stacks_the_curated_dataset_and_the_event_contract():
    _, [built] = create_app([load_environment("dev")])
    outputs = built.data.outputs
    stack = built.data
    assert (outputs.raw_prefix, outputs.curated_prefix, outputs.quarantine_prefix) == (
        "raw/",
        "curated/",
        "quarantine/",
    )
    assert outputs.curated_dataset_key == "curated/titanic.csv"
    assert stack.resolve(outputs.curated_dataset_uri) == {
        "Fn::Join": [
            "",
            ["s3://", {"Ref": stack.get_logical_id(outputs.bucket.node.default_child)}, "/curated/titanic.csv"],
        ]
    }
    assert (outputs.event_source, outputs.event_detail_type) == (DATASET_EVENT_SOURCE, DATASET_EVENT_DETAIL_TYPE)
    with pytest.raises(AttributeError):
        outputs.curated_dataset_key = "elsewhere"  # frozen: later stacks cannot change it


def test_no_copy_of_the_schema_is_committed_outside_ml():
    assert list(ROOT.glob("lambdas/**/schema.py")) == []


def test_no_cdk_internal_helpers_are_added(data):
    """No BucketDeployment / notifications / auto-delete helper: every function in the stack is one we wrote."""
    _, template = data
    names = sorted(
        f["Properties"]["FunctionName"].split("-", 2)[-1]
        for f in template.find_resources("AWS::Lambda::Function").values()
    )
    assert names == ["seed-data", "validate-data"]
    assert not template.find_resources("Custom::S3BucketNotifications")
    assert not template.find_resources("Custom::CDKBucketDeployment")
