"""constructs/python_function.py: the asset holds exactly the handler folder's code plus the shared files, its hash
is deterministic and follows every packaged byte (a change to ml/schema.py redeploys the Lambda); every function
encrypts its environment with the key, and either reserves concurrency or says why not (a checkov skip)."""

from __future__ import annotations

import re
import shutil
from importlib.metadata import version

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from constructs import python_function
from constructs.python_function import (
    POWERTOOLS_VERSION,
    PROJECT_ROOT,
    PowertoolsFunction,
    asset_files,
    powertools_layer_parameter,
)

SHARED = ("ml/__init__.py", "ml/schema.py")
WHY_NOT = "invoked once per deploy by CloudFormation, never in parallel: nothing to cap"


def function_resource(tmp_path, name: str, **concurrency) -> dict:
    app = App(outdir=str(tmp_path / name))
    stack = Stack(app, "S")
    PowertoolsFunction(
        stack,
        "F",
        function_name="titanic-test-validate-data",
        source="lambdas/validate_data",
        shared_files=SHARED,
        description="test",
        key=kms.Key(stack, "Key"),
        log_retention_days=30,
        destroy_on_delete=True,
        **(concurrency or {"no_reservation_reason": WHY_NOT}),
    )
    [function] = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    return function


def code_key(tmp_path, name: str) -> str:
    return function_resource(tmp_path, name)["Properties"]["Code"]["S3Key"]


def _skips(function: dict) -> dict[str, str]:
    return {entry["id"]: entry["comment"] for entry in function["Metadata"]["checkov"]["skip"]}


def test_the_environment_is_encrypted_with_the_key_and_no_vpc_is_a_reasoned_skip(tmp_path):
    function = function_resource(tmp_path, "defaults")
    key_id, attribute = function["Properties"]["KmsKeyArn"]["Fn::GetAtt"]
    assert key_id.startswith("Key") and attribute == "Arn"
    assert "VpcConfig" not in function["Properties"]
    assert _skips(function)["CKV_AWS_117"] == python_function.NO_VPC_REASON


def test_a_function_reserves_concurrency_or_says_why_it_needs_none(tmp_path):
    capped = function_resource(tmp_path, "capped", reserved_concurrency=3)
    assert capped["Properties"]["ReservedConcurrentExecutions"] == 3
    assert "CKV_AWS_115" not in _skips(capped)
    shared = function_resource(tmp_path, "shared", no_reservation_reason=WHY_NOT)
    assert "ReservedConcurrentExecutions" not in shared["Properties"]
    assert _skips(shared)["CKV_AWS_115"] == WHY_NOT
    for neither_or_both in (
        {"reserved_concurrency": None},
        {"reserved_concurrency": 3, "no_reservation_reason": WHY_NOT},
    ):
        with pytest.raises(ValueError, match=r"reserved_concurrency \(a cap .* or no_reservation_reason"):
            function_resource(tmp_path, "bad", **neither_or_both)


def test_the_asset_hash_is_the_same_for_every_synth(tmp_path):
    assert code_key(tmp_path, "one") == code_key(tmp_path, "two")


def test_a_change_to_a_shared_file_changes_the_asset_hash(tmp_path, monkeypatch):
    tree = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "lambdas" / "validate_data", tree / "lambdas" / "validate_data")
    (tree / "ml").mkdir()
    for relative in SHARED:
        shutil.copyfile(PROJECT_ROOT / relative, tree / relative)
    monkeypatch.setattr(python_function, "PROJECT_ROOT", tree)
    before = code_key(tmp_path, "before")
    with (tree / "ml" / "schema.py").open("a") as schema:
        schema.write("\n# a new rule\n")
    assert code_key(tmp_path, "after") != before


def test_only_code_and_requirements_are_packaged(tmp_path, monkeypatch):
    folder = tmp_path / "lambdas" / "demo"
    (folder / "__pycache__").mkdir(parents=True)
    for name in ("handler.py", "helpers.py", "requirements.txt", "notes.md", "__pycache__/handler.cpython-311.pyc"):
        (folder / name).write_text("x")
    monkeypatch.setattr(python_function, "PROJECT_ROOT", tmp_path)
    assert sorted(asset_files("lambdas/demo", ())) == ["handler.py", "helpers.py", "requirements.txt"]


def test_a_missing_handler_or_shared_file_fails_before_synth():
    with pytest.raises(ValueError, match=r"handler\.py does not exist"):
        asset_files("lambdas", ())
    with pytest.raises(ValueError, match=r"shared file ml/missing\.py does not exist"):
        asset_files("lambdas/validate_data", ("ml/missing.py",))


POWERTOOLS_PIN = re.compile(r"^aws-lambda-powertools(\[[a-z,]+\])?==(?P<version>\S+)", re.MULTILINE)


def test_the_powertools_version_deployed_is_the_version_the_tests_run():
    """One constant: every requirements file pins it, the test venv runs it, the layer is that version's build."""
    pinned = {
        path.relative_to(PROJECT_ROOT).as_posix(): [m["version"] for m in POWERTOOLS_PIN.finditer(path.read_text())]
        for path in [
            PROJECT_ROOT / "requirements-dev.txt",
            *sorted((PROJECT_ROOT / "lambdas").glob("*/requirements.txt")),
        ]
        if "aws-lambda-powertools" in path.read_text()
    }
    assert "requirements-dev.txt" in pinned and len(pinned) > 2
    assert all(versions == [POWERTOOLS_VERSION] for versions in pinned.values()), pinned
    assert version("aws-lambda-powertools") == POWERTOOLS_VERSION
    assert powertools_layer_parameter() == f"/aws/service/powertools/python/arm64/python3.13/{POWERTOOLS_VERSION}"


def test_the_function_layer_is_resolved_from_the_parameter_of_the_pinned_version(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "S")
    PowertoolsFunction(
        stack,
        "F",
        function_name="titanic-test-smoke-test",
        source="lambdas/smoke_test",
        description="test",
        key=kms.Key(stack, "Key"),
        log_retention_days=30,
        destroy_on_delete=True,
        no_reservation_reason=WHY_NOT,
    )
    [function] = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    assert function["Properties"]["Layers"] == [f"{{{{resolve:ssm:{powertools_layer_parameter()}}}}}"]
