"""terraform/bootstrap: formatted, parseable, and its IAM and state bucket say what the docs promise.

`terraform init/validate` need the AWS provider download, impossible offline; fmt plus a static parse is what runs here.
"""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def blocks() -> dict[str, dict]:
    """{"resource.aws_s3_bucket.state": {...}, "data.aws_iam_policy_document.deploy_trust": {...}, ...}"""
    found = {}
    for path in sorted(BOOTSTRAP.glob("*.tf")):
        document = _unquote(hcl2.load(path.open()))
        for kind in ("resource", "data"):
            for entry in document.get(kind, []):
                for type_name, named in entry.items():
                    for name, body in named.items():
                        found[f"{kind}.{type_name}.{name}"] = body
        for provider in document.get("provider", []):
            found.update({f"provider.{name}": body for name, body in provider.items()})
    return found


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
    statements = blocks["data.aws_iam_policy_document.deploy_permissions"]["statement"]
    assert len(statements) == 1
    assert statements[0]["actions"] == ["sts:AssumeRole", "sts:TagSession"]
    resources = statements[0]["resources"]
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
