"""terraform/bootstrap: formatted, parseable, and its IAM and state bucket say what the docs promise.

`terraform init/validate` need the AWS provider download, impossible offline (the checks workflow runs them on GitHub's
runners); fmt plus a static parse is what runs here. The operator role and the CDK execution policy are checked here
too; tests/infra/test_cdk_execution_policy.py checks the policy against the synthesized resource types.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

BOOTSTRAP = Path(__file__).resolve().parents[1] / "terraform" / "bootstrap"


def _unquote(value):
    """python-hcl2 keeps HCL string quotes; strip them recursively for readable assertions."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(item) for item in value]
    if isinstance(value, dict):
        return {_unquote(key): _unquote(item) for key, item in value.items() if key != "__is_block__"}
    return value


@functools.cache
def bootstrap_blocks() -> dict[str, dict]:
    """{"resource.aws_s3_bucket.state": {...}, "data.aws_iam_policy_document.deploy_trust": {...}, ...}"""
    found = {}
    for path in sorted(BOOTSTRAP.glob("*.tf")):
        document = _unquote(hcl2.load(path.open()))
        for kind in ("resource", "data"):
            for entry in document.get(kind, []):
                for type_name, named in entry.items():
                    for name, body in named.items():
                        found[f"{kind}.{type_name}.{name}"] = body
        for entry in document.get("locals", []):
            found.setdefault("locals", {}).update(entry)
        for provider in document.get("provider", []):
            found.update({f"provider.{name}": body for name, body in provider.items()})
    return found


def statements(name: str) -> dict[str, dict]:
    """The statements of one aws_iam_policy_document, by sid."""
    return {statement.get("sid", ""): statement for statement in bootstrap_blocks()[name]["statement"]}


@pytest.fixture(scope="module")
def blocks() -> dict[str, dict]:
    return bootstrap_blocks()


def test_terraform_files_are_formatted():
    terraform = shutil.which("terraform")
    assert terraform, "terraform must be on PATH (it is on these machines; see ../shared/toolchain.md)"
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull}
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", str(BOOTSTRAP)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_resource_gets_the_mandatory_tags(blocks):
    tags = blocks["provider.aws"]["default_tags"][0]["tags"]
    assert set(tags) == {"project", "env", "owner", "managed_by", "cost_center"}
    assert tags["project"] == "titanic-sagemaker"
    assert tags["managed_by"] == "terraform"


def test_deploy_roles_trust_only_their_github_environment(blocks):
    statement = blocks["data.aws_iam_policy_document.deploy_trust"]["statement"][0]
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: c for c in statement["condition"]}
    assert conditions["token.actions.githubusercontent.com:aud"]["values"] == ["sts.amazonaws.com"]
    subject = conditions["token.actions.githubusercontent.com:sub"]
    assert subject["test"] == "StringEquals"  # not StringLike: no wildcard branches or environments
    assert subject["values"] == ["repo:${var.github_repository}:environment:${each.key}"]


def test_deploy_roles_can_only_assume_the_cdk_bootstrap_roles(blocks):
    granted = blocks["data.aws_iam_policy_document.deploy_permissions"]["statement"]
    assert len(granted) == 1
    assert granted[0]["actions"] == ["sts:AssumeRole", "sts:TagSession"]
    resources = granted[0]["resources"]
    assert "role/cdk-${var.cdk_qualifier}-${role}-role-" in resources
    assert '["deploy", "file-publishing", "image-publishing", "lookup"]' in resources


def test_state_bucket_is_versioned_encrypted_private_and_tls_only(blocks):
    assert blocks["resource.aws_s3_bucket_versioning.state"]["versioning_configuration"][0]["status"] == "Enabled"
    sse = blocks["resource.aws_s3_bucket_server_side_encryption_configuration.state"]["rule"][0]
    assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    public_access = blocks["resource.aws_s3_bucket_public_access_block.state"]
    assert all(
        public_access[flag] is True for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls")
    )
    assert public_access["restrict_public_buckets"] is True
    deny = blocks["data.aws_iam_policy_document.state_tls_only"]["statement"][0]
    assert deny["effect"] == "Deny"
    assert deny["condition"][0] == {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}


def test_no_allow_statement_uses_a_wildcard_action(blocks):
    for name, body in blocks.items():
        if not name.startswith("data.aws_iam_policy_document."):
            continue
        for statement in body["statement"]:
            if statement.get("effect", "Allow") == "Allow":
                assert not any(action == "*" or action.endswith(":*") for action in statement["actions"]), name


def test_deploy_roles_may_only_start_follow_and_smoke_test_their_environment(blocks):
    role = blocks["resource.aws_iam_role.deploy"]
    assert role["max_session_duration"] == 7200  # deploy.yml asks for 2 h: a deploy plus a pipeline run
    checks = statements("data.aws_iam_policy_document.post_deploy_checks")
    assert checks["StartThisEnvironmentsTrainingPipeline"]["actions"] == ["sagemaker:StartPipelineExecution"]
    assert checks["StartThisEnvironmentsTrainingPipeline"]["resources"][0].endswith(
        ":pipeline/titanic-${each.key}-training"
    )
    assert checks["FollowItsExecutions"]["resources"][0].endswith(":pipeline/titanic-${each.key}-training/execution/*")
    smoke = checks["SmokeTestThisEnvironmentsEndpoints"]
    assert smoke["actions"] == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    assert ':endpoint/titanic-${each.key}-${stage}"' in smoke["resources"]
    assert '["staging", "prod"]' in smoke["resources"]


def test_the_diff_role_is_for_pull_requests_and_can_only_assume_the_read_only_lookup_role(blocks):
    (trust,) = blocks["data.aws_iam_policy_document.diff_trust"]["statement"]
    subject = {c["variable"]: c for c in trust["condition"]}["token.actions.githubusercontent.com:sub"]
    assert subject["test"] == "StringEquals"
    assert subject["values"] == ["repo:${var.github_repository}:pull_request"]
    (granted,) = blocks["data.aws_iam_policy_document.diff_permissions"]["statement"]
    assert granted["actions"] == ["sts:AssumeRole", "sts:TagSession"]
    assert len(granted["resources"]) == 1 and ":role/cdk-${var.cdk_qualifier}-lookup-role-" in granted["resources"][0]


# Actions of the operator role that change something, and the only ones allowed: start the pipeline, approve or reject
# a package (which starts a release), answer the approval gate, start the promotion workflow (rollback), open the
# MLflow UI (a presigned URL) and call the MLflow app, whose one data-plane action cannot split reading from writing.
OPERATOR_WRITES = {
    "sagemaker:StartPipelineExecution",
    "sagemaker:UpdateModelPackage",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:StartExecution",
    "sagemaker:CreatePresignedMlflowAppUrl",
    "sagemaker:CreatePresignedMlflowTrackingServerUrl",
    "sagemaker:CallMlflowAppApi",
}
READ_VERBS = ("Describe", "Get", "List", "Filter", "StartQuery", "Search", "Query", "AccessUI", "Decrypt", "View")
NO_RESOURCE_LEVEL = {
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "logs:GetQueryResults",
    "logs:DescribeLogGroups",
    "states:ListStateMachines",
    "sagemaker:ListEndpoints",
    "sagemaker:ListEndpointConfigs",
    "sagemaker:ListModels",
    "sagemaker:ListModelPackages",
    "sagemaker:ListPipelineExecutions",
    "sagemaker:ListTrainingJobs",
    "sagemaker:ListProcessingJobs",
    "sagemaker:ListMlflowTrackingServers",
    "sagemaker:ListMlflowApps",
    "tag:GetResources",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
}
# A resource that cannot carry the environment's name (an MLflow app's ARN ends in a generated ID, a KMS key's in
# its key ID) is allowed only with conditions on the project and env tags every stack puts on its resources.
ENVIRONMENT_TAGS = [
    {"test": "StringEquals", "variable": "aws:ResourceTag/project", "values": ["titanic-sagemaker"]},
    {"test": "StringEquals", "variable": "aws:ResourceTag/env", "values": ["${each.key}"]},
]


def _pinned_by_tags(statement: dict) -> bool:
    return all(condition in statement.get("condition", []) for condition in ENVIRONMENT_TAGS)


def test_operator_roles_are_assumed_by_named_principals_with_mfa(blocks):
    (trust,) = blocks["data.aws_iam_policy_document.operator_trust"]["statement"]
    assert trust["actions"] == ["sts:AssumeRole"]
    assert trust["principals"][0] == {"type": "AWS", "identifiers": "${each.value}"}
    mfa = trust["dynamic"][0]["condition"]
    assert mfa["for_each"] == "${var.operator_require_mfa ? [true] : []}"
    assert mfa["content"][0] == {"test": "Bool", "variable": "aws:MultiFactorAuthPresent", "values": ["true"]}
    assert blocks["resource.aws_iam_role.operator"]["name"] == "titanic-${each.key}-operator"
    assert "operator_principals = {" in (BOOTSTRAP / "terraform.tfvars.example").read_text()


def test_operators_read_and_answer_releases_of_their_environment_only(blocks):
    granted = statements("data.aws_iam_policy_document.operator")
    for sid, statement in granted.items():
        for action in statement["actions"]:
            verb = action.split(":", 1)[1]
            assert action in OPERATOR_WRITES or verb.startswith(READ_VERBS), f"{sid}: {action} changes something"
        if statement["resources"] == ["*"]:
            assert set(statement["actions"]) <= NO_RESOURCE_LEVEL, f"{sid}: * only where the API offers nothing else"
        elif statement["actions"] == ["kms:Decrypt"]:
            # The environment key is created by CDK: it is named by its alias, and used only through DynamoDB.
            conditions = {c["variable"]: c["values"] for c in statement["condition"]}
            assert conditions["kms:ResourceAliases"] == ["alias/titanic-${each.key}"], sid
            assert conditions["kms:ViaService"] == ["dynamodb.${var.region}.amazonaws.com"], sid
        else:
            resources = statement["resources"]
            resources = resources if isinstance(resources, list) else [resources]
            assert all("titanic-${each.key}" in resource for resource in resources) or _pinned_by_tags(statement), sid
    assert granted["RollBackThroughThisEnvironmentsPromotionWorkflow"]["actions"] == ["states:StartExecution"]
    assert granted["RollBackThroughThisEnvironmentsPromotionWorkflow"]["resources"][0].endswith(
        ":stateMachine:titanic-${each.key}-promotion"
    )
    assert granted["StartThisEnvironmentsTrainingPipeline"]["resources"][0].endswith(
        ":pipeline/titanic-${each.key}-training"
    )
    assert granted["ReadThisEnvironmentsReleaseHistory"]["resources"] == [
        "${local.arn}:dynamodb:${var.region}:${local.account}:table/titanic-${each.key}-releases"
    ]
    described = granted["DescribeThisEnvironmentsResources"]["resources"]
    assert any(r.endswith(":stateMachine:titanic-${each.key}-*") for r in described)


def test_operators_use_their_environments_mlflow_and_read_its_audit_trail(blocks):
    granted = statements("data.aws_iam_policy_document.operator")
    app = granted["UseThisEnvironmentsMlflowApp"]
    assert app["resources"] == ["${local.arn}:sagemaker:${var.region}:${local.account}:mlflow-app/*"]
    assert _pinned_by_tags(app)  # the app's ARN carries no name: its env tag picks this environment's app
    server = granted["ReadThisEnvironmentsMlflowTrackingServer"]
    assert server["resources"][0].endswith(":mlflow-tracking-server/titanic-${each.key}-mlflow")
    mlflow = [a for a in server["actions"] if a.startswith("sagemaker-mlflow:")]
    assert mlflow and all(a.split(":")[1].startswith(("Get", "Search", "List", "AccessUI")) for a in mlflow)
    every_action = [a for statement in granted.values() for a in statement["actions"]]
    assert not [a for a in every_action if a.endswith(":*") or a == "sagemaker-mlflow:*"]
    logs = str(granted["ReadThisEnvironmentsLogs"]["resources"])  # a for expression over the group names
    assert "/aws/events/titanic-${each.key}-*" in logs  # the registry audit log group
    releases = granted["ReadThisEnvironmentsReleaseRecords"]
    assert releases["actions"] == ["dynamodb:Query", "dynamodb:DescribeTable"]
    assert releases["resources"][0].endswith(":table/titanic-${each.key}-releases")
    decrypt = granted["DecryptThisEnvironmentsReleaseRecords"]
    assert _pinned_by_tags(decrypt)
    assert {
        "test": "StringEquals",
        "variable": "kms:ViaService",
        "values": ["dynamodb.${var.region}.amazonaws.com"],
    } in (decrypt["condition"])


def test_the_cdk_execution_policy_is_scoped_to_this_apps_names(blocks):
    granted = statements("data.aws_iam_policy_document.cdk_execution")
    everywhere = {sid for sid, statement in granted.items() if statement["resources"] == ["*"]}
    assert everywhere == {"CreateKeysTaggedForThisProject", "StepFunctionsLogDeliveryAndDescribeCalls"}
    assert granted["CreateKeysTaggedForThisProject"]["condition"][0] == {
        "test": "StringEquals",
        "variable": "aws:RequestTag/project",
        "values": ["titanic-sagemaker"],
    }
    assert granted["ManageKeysOfThisProject"]["condition"][0]["variable"] == "aws:ResourceTag/project"
    lambda_only = granted["EncryptFunctionEnvironmentsWithProjectKeys"]
    assert [c["variable"] for c in lambda_only["condition"]] == ["aws:ResourceTag/project", "kms:ViaService"]
    assert lambda_only["condition"][1]["values"] == ["lambda.${var.region}.amazonaws.com"]
    assert granted["EncryptTablesWithTheKeysOfThisProject"]["condition"][0]["variable"] == "aws:ResourceTag/project"
    # MLflow apps: ARNs with a generated ID, so (like keys) limited by the project tag, on create and after.
    tagged = {
        "ManageKeysOfThisProject",
        "EncryptFunctionEnvironmentsWithProjectKeys",
        "EncryptTablesWithTheKeysOfThisProject",
        "CreateMlflowAppsTaggedForThisProject",
        "ManageMlflowAppsOfThisProject",
    }
    for sid, variable in (
        ("CreateMlflowAppsTaggedForThisProject", "aws:RequestTag/project"),
        ("ManageMlflowAppsOfThisProject", "aws:ResourceTag/project"),
    ):
        assert granted[sid]["condition"] == [
            {"test": "StringEquals", "variable": variable, "values": ["titanic-sagemaker"]}
        ]
        assert granted[sid]["resources"] == ["${local.arn}:sagemaker:${var.region}:${local.account}:mlflow-app/*"]
    for sid, statement in granted.items():
        if sid in everywhere | tagged:
            continue
        text = str(statement["resources"])
        bootstrap = any(
            part in text
            for part in (
                "cdk-${var.cdk_qualifier}",
                "cdk-bootstrap/${var.cdk_qualifier}/",
                ":017000801446:",
                "::parameter/aws/service/powertools/python/",
            )
        )  # the CDK bootstrap's asset bucket and version parameter, the AWS-published Powertools layer and its
        # public parameter
        assert "${prefix}" in text or bootstrap, f"{sid} is not limited to titanic-<env> names"
    passed = granted["PassRolesOfThisAppToItsServices"]
    assert passed["actions"] == ["iam:PassRole"] and passed["condition"][0]["variable"] == "iam:PassedToService"
    assert blocks["locals"]["prefixes"] == '${[for env in var.environments : "titanic-${env}"]}'
    outputs = (BOOTSTRAP / "outputs.tf").read_text()
    assert "--cloudformation-execution-policies ${aws_iam_policy.cdk_execution.arn}" in outputs
