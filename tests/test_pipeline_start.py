"""scripts/pipeline_start.py against a stubbed SageMaker client (moto lacks list_pipeline_execution_steps)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from pipeline_start import follow, main, parse_parameters

ARN = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/titanic-dev-training/execution/abc123"


def _steps(*steps: tuple[str, str, str]) -> dict:
    return {
        "PipelineExecutionSteps": [
            {"StepName": name, "StepStatus": status, **({"FailureReason": reason} if reason else {})}
            for name, status, reason in steps
        ]
    }


def _client():
    client = boto3.client("sagemaker", region_name="eu-west-1")
    return client, Stubber(client)


def _poll(stubber, steps, status, reason=None):
    stubber.add_response(
        "list_pipeline_execution_steps", steps, {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"}
    )
    execution = {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status}
    if reason:
        execution["FailureReason"] = reason
    stubber.add_response("describe_pipeline_execution", execution, {"PipelineExecutionArn": ARN})


def test_starts_the_environment_pipeline_and_prints_each_status_change_once(capsys):
    client, stubber = _client()
    stubber.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": ARN},
        {
            "PipelineName": "titanic-dev-training",
            "PipelineExecutionDisplayName": ANY,
            "PipelineExecutionDescription": ANY,
            "ClientRequestToken": ANY,
            "PipelineParameters": [{"Name": "QualityThreshold", "Value": "0.8"}],
        },
    )
    _poll(stubber, _steps(("DataPreProcessing", "Executing", "")), "Executing")
    _poll(stubber, _steps(("DataPreProcessing", "Executing", "")), "Executing")
    _poll(
        stubber,
        _steps(
            ("DataPreProcessing", "Succeeded", ""), ("TrainModel", "Succeeded", ""), ("RegisterModel", "Succeeded", "")
        ),
        "Succeeded",
    )
    with stubber:
        code = main(["--env", "dev", "--parameter", "QualityThreshold=0.8", "--poll-seconds", "0"], client=client)
    stubber.assert_no_pending_responses()
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"started {ARN}"
    assert [line.split() for line in lines[1:]] == [
        ["DataPreProcessing", "Executing"],
        ["DataPreProcessing", "Succeeded"],
        ["TrainModel", "Succeeded"],
        ["RegisterModel", "Succeeded"],
        ["execution", "Succeeded"],
    ]


def test_a_failed_gate_exits_non_zero_with_the_reason(capsys):
    client, stubber = _client()
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN}, None)
    _poll(
        stubber,
        _steps(("QualityGateFailed", "Failed", "Quality gate failed: accuracy 0.7 is below the threshold 0.78")),
        "Failed",
        "Step failure: One or multiple steps failed.",
    )
    with stubber:
        assert main(["--env", "dev", "--poll-seconds", "0"], client=client) == 1
    out = capsys.readouterr().out
    assert "QualityGateFailed    Failed - Quality gate failed: accuracy 0.7 is below the threshold 0.78" in out
    assert "execution Failed: Step failure" in out


def test_steps_are_read_across_pages():
    client, stubber = _client()
    stubber.add_response(
        "list_pipeline_execution_steps",
        {**_steps(("DataPreProcessing", "Succeeded", "")), "NextToken": "page-2"},
        {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"},
    )
    stubber.add_response(
        "list_pipeline_execution_steps",
        _steps(("TrainModel", "Stopped", "")),
        {"PipelineExecutionArn": ARN, "SortOrder": "Ascending", "NextToken": "page-2"},
    )
    stubber.add_response(
        "describe_pipeline_execution",
        {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": "Stopped"},
        {"PipelineExecutionArn": ARN},
    )
    printed = []
    with stubber:
        assert follow(client, ARN, 0, sleep=lambda _: None, emit=printed.append) == "Stopped"
    assert [line.split()[:2] for line in printed] == [
        ["DataPreProcessing", "Succeeded"],
        ["TrainModel", "Stopped"],
        ["execution", "Stopped"],
    ]


def test_parameters_must_be_name_value_pairs():
    assert parse_parameters(["A=1", "B=x=y"]) == [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "x=y"}]
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_parameters(["nonsense"])


def _evidence_reads(stubber, steps, status):
    """The evidence reads the execution once more, then its steps."""
    stubber.add_response(
        "describe_pipeline_execution",
        {"PipelineExecutionArn": ARN, "PipelineExecutionStatus": status},
        {"PipelineExecutionArn": ARN},
    )
    stubber.add_response(
        "list_pipeline_execution_steps", steps, {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"}
    )


def test_evidence_records_the_execution_every_step_and_the_registered_package(tmp_path, capsys):
    package = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/titanic-dev-models/7"
    steps = _steps(("DataPreProcessing", "Succeeded", ""), ("TrainModel", "Succeeded", ""))
    steps["PipelineExecutionSteps"].append(
        {"StepName": "RegisterModel", "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": package}}}
    )
    client, stubber = _client()
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN}, None)
    _poll(stubber, steps, "Succeeded")
    _evidence_reads(stubber, steps, "Succeeded")
    record = tmp_path / "pipeline.json"
    with stubber:
        assert main(["--env", "dev", "--poll-seconds", "0", "--evidence", str(record)], client=client) == 0
    assert json.loads(record.read_text()) == {
        "environment": "dev",
        "pipeline": "titanic-dev-training",
        "pipeline_execution_arn": ARN,
        "status": "Succeeded",
        "failure_reason": "",
        "steps": [
            {"name": "DataPreProcessing", "status": "Succeeded", "failure_reason": ""},
            {"name": "TrainModel", "status": "Succeeded", "failure_reason": ""},
            {"name": "RegisterModel", "status": "Succeeded", "failure_reason": ""},
        ],
        "model_package_arn": package,
    }
    assert f"evidence: {record} (model package {package})" in capsys.readouterr().out


def test_a_failed_run_still_leaves_its_evidence(tmp_path):
    reason = "Quality gate failed: accuracy 0.7 is below the threshold 0.78"
    steps = _steps(("ModelEvaluation", "Succeeded", ""), ("QualityGateFailed", "Failed", reason))
    client, stubber = _client()
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": ARN}, None)
    _poll(stubber, steps, "Failed", "Step failure: One or multiple steps failed.")
    _evidence_reads(stubber, steps, "Failed")
    record = tmp_path / "pipeline.json"
    with stubber:
        assert main(["--env", "dev", "--poll-seconds", "0", "--evidence", str(record)], client=client) == 1
    written = json.loads(record.read_text())
    assert written["status"] == "Failed" and written["model_package_arn"] is None
    assert written["steps"][-1] == {"name": "QualityGateFailed", "status": "Failed", "failure_reason": reason}
