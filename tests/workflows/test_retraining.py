"""The retraining workflow, executed under moto: start the pipeline, follow it, alert on failure, never overlap."""

from __future__ import annotations

import pytest

from stacks.training_pipeline_contract import INPUT_DATA_PARAMETER
from tests import moto_patches
from tests.workflows.conftest import NAMES

PIPELINE = NAMES.pipeline


@pytest.fixture
def pipeline_statuses():
    """Statuses the pipeline execution reports, one per DescribePipelineExecution (moto's are Succeeded at once)."""
    with moto_patches.pipeline_statuses() as statuses:
        yield statuses


def executions(world) -> list[dict]:
    summaries = world.sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    return [world.sm.describe_pipeline_execution(PipelineExecutionArn=s["PipelineExecutionArn"]) for s in summaries]


def parameters(world, execution: dict) -> list[dict]:
    arn = execution["PipelineExecutionArn"]
    return world.sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]


def failure_alerts(world) -> list[str]:
    return [m["body"] for m in world.messages() if m["subject"].endswith("retraining failed")]


def test_schedule_starts_the_pipeline_and_follows_it_to_success(world, aws, pipeline_statuses):
    pipeline_statuses.extend(["Executing", "Executing", "Succeeded"])
    execution = world.finish(world.start("retraining", {"trigger": "schedule"}))

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    visited = world.visited(execution["executionArn"])
    assert visited.count("PollPipeline") == 3 and visited[-1] == "PipelineSucceeded"
    (started,) = executions(world)
    assert started["PipelineExecutionDescription"].startswith("trigger=schedule")
    assert parameters(world, started) == []  # the pipeline's default input
    assert failure_alerts(world) == []


def test_validated_dataset_starts_the_pipeline_with_its_provenance(world):
    event_input = {"trigger": "dataset", "curated_uri": "s3://curated/titanic.csv", "sha256": "4a437fde"}
    execution = world.finish(world.start("retraining", event_input))

    assert execution["status"] == "SUCCEEDED"
    (started,) = executions(world)
    assert started["PipelineExecutionDescription"] == "trigger=dataset dataset=s3://curated/titanic.csv sha256=4a437fde"
    assert parameters(world, started) == [{"Name": INPUT_DATA_PARAMETER, "Value": "s3://curated/titanic.csv"}]


@pytest.mark.parametrize("outcome", ["Failed", "Stopped"])
def test_pipeline_failure_alerts_and_fails(world, pipeline_statuses, outcome):
    pipeline_statuses.extend(["Executing", outcome])
    execution = world.finish(world.start("retraining", {"trigger": "schedule"}))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "PipelineFailed"
    (alert,) = failure_alerts(world)
    assert f"ended {outcome}" in alert and "schedule" in alert


def test_a_running_pipeline_prevents_an_overlapping_run(world, pipeline_statuses):
    pipeline_statuses.append("Executing")  # a run started earlier (by hand or by the schedule) is still going
    world.sm.start_pipeline_execution(PipelineName=PIPELINE, ClientRequestToken="x" * 32)
    execution = world.finish(
        world.start("retraining", {"trigger": "dataset", "curated_uri": "s3://c/t.csv", "sha256": "a"})
    )

    assert execution["status"] == "SUCCEEDED"
    assert world.visited(execution["executionArn"])[-1] == "SkippedOverlappingRun"
    assert len(executions(world)) == 1  # nothing new started
    assert failure_alerts(world) == []


def test_missing_pipeline_alerts(world):
    world.sm.delete_pipeline(PipelineName=PIPELINE, ClientRequestToken="y" * 32)
    execution = world.finish(world.start("retraining", {"trigger": "schedule"}))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RetrainingFailed"
    assert len(failure_alerts(world)) == 1
