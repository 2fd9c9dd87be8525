"""Phase 00: cfn-lint is the one CloudFormation template validator (app.py turns CDK's built-in CloudFormation
Validate off: it only warned, and cost ~7 s of every synthesis). With the project's settings (.cfnlintrc.yaml, as
`make cfn-lint` uses them) it fails on the errors the built-in engine reported only as warnings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).parent / "cfn-lint"  # the pinned one, beside this interpreter


def lint(template: Path) -> subprocess.CompletedProcess:
    command = [str(CFN_LINT), "--config-file", ".cfnlintrc.yaml", "--", str(template)]
    return subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=120)


def test_an_unknown_property_and_an_invalid_bucket_name_fail_cfn_lint(tmp_path):
    template = tmp_path / "broken.template.json"
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BogusProp": 1, "BucketName": "Not_A_Bucket_Name"}}
    template.write_text(json.dumps({"Resources": {"Bucket": bucket}}))
    result = lint(template)
    assert result.returncode != 0
    assert "E3002" in result.stdout and "BogusProp" in result.stdout  # the built-in engine's F3002, as a warning
    assert "E3031" in result.stdout  # its F3031 (the bucket name pattern)


def test_only_the_check_cdk_itself_trips_is_ignored(tmp_path):
    """W3005 (a DependsOn that a GetAtt already implies: CDK's own Lambda construct writes it) is ignored."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
        "Function": {  # as CDK writes a Lambda function: DependsOn its role, which Role's GetAtt already implies
            "Type": "AWS::Lambda::Function",
            "DependsOn": "Role",
            "Properties": {
                "Code": {"ZipFile": "def handler(event, context): return None"},
                "Handler": "index.handler",
                "Runtime": "python3.12",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            },
        },
    }
    template = tmp_path / "depends.template.json"
    template.write_text(json.dumps({"Resources": resources}))
    # Outside the project (which cfn-lint would search for .cfnlintrc.yaml) the template does trip W3005.
    unconfigured = subprocess.run(
        [str(CFN_LINT), "--", str(template)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "W3005" in unconfigured.stdout
    result = lint(template)
    assert result.returncode == 0 and "W3005" not in result.stdout, result.stdout
