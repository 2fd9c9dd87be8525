"""docs/access-report.md is the current evaluation, and the model covers every source of calls generically."""

from __future__ import annotations

import json
from pathlib import Path

from access_model.model import UNKNOWN_ACTION, UNRESOLVED
from access_model.rules import load_table
from access_report import render

from config import load_environment
from tests.access.recorder import FIXTURE


def test_the_access_report_is_up_to_date(evaluated):
    committed = Path("docs/access-report.md").read_text()
    assert committed == render(evaluated), "run `make access-report` and commit docs/access-report.md"


def _origins(results) -> set[str]:
    return {origin for result in results for origin in result.origins}


def test_every_task_state_of_every_state_machine_is_evaluated(evaluated):
    for env, results in evaluated:
        origins = _origins(results)
        for resource in env.resources("AWS::StepFunctions::StateMachine"):
            definition = json.loads(resource.properties["DefinitionString"])
            name = resource.properties["StateMachineName"]
            tasks = [state for state, body in definition["States"].items() if body["Type"] == "Task"]
            assert tasks
            missing = [t for t in tasks if not any(o.startswith(f"state machine {name}, state {t}") for o in origins)]
            assert not missing, f"{name}: no request from {missing}"


def test_every_pipeline_step_that_calls_aws_is_evaluated_with_the_jobs_own_access(evaluated):
    for env, results in evaluated:
        origins = _origins(results)
        for pipeline in env.resources("AWS::SageMaker::Pipeline"):
            name = pipeline.properties["PipelineName"]
            body = json.loads(pipeline.properties["PipelineDefinition"]["PipelineDefinitionBody"])
            for step in body["Steps"]:
                if step["Type"] in ("Processing", "Training"):
                    job_rule = "processing-job-data" if step["Type"] == "Processing" else "training-job-data"
                    assert f"pipeline {name}, step {step['Name']}" in origins
                    assert f"pipeline {name}, step {step['Name']} -> {job_rule}" in origins


def test_every_recorded_lambda_call_is_evaluated_in_every_environment_that_deploys_the_function(evaluated):
    recorded = json.loads(FIXTURE.read_text())
    assert {entry["function"] for entry in recorded} == {
        "lambdas/drift_check",
        "lambdas/endpoint_sleeper",
        "lambdas/orphan_report",
        "lambdas/seed_data",
        "lambdas/smoke_test",
        "lambdas/validate_data",
    }
    for env, results in evaluated:
        origins = " ".join(_origins(results))
        # The endpoint sleeper exists only where [cost] endpoints_sleep is true (stacks/endpoint_sleep.py).
        sleeps = load_environment(env.name).cost.endpoints_sleep
        for entry in recorded:
            if entry["function"] == "lambdas/endpoint_sleeper" and not sleeps:
                assert "(lambdas/endpoint_sleeper)" not in origins
                continue
            assert f"({entry['function']}): {entry['service']} {entry['operation']}" in origins


def test_every_request_is_named_and_every_action_exists(evaluated):
    for env, results in evaluated:
        unnamed = [r.request for r in results if r.verdict in (UNRESOLVED, UNKNOWN_ACTION)]
        assert not unnamed, f"{env.name}: {unnamed}"


def test_every_reviewed_rule_applies_somewhere_and_cites_aws_documentation(evaluated):
    origins = " ".join(origin for _, results in evaluated for origin in _origins(results))
    table = load_table()
    for rule in table.rules:
        assert rule.doc.startswith(("https://docs.aws.amazon.com/", "https://repost.aws/")), rule.id
        assert f"-> {rule.id}" in origins, f"rule {rule.id} derives nothing in any environment: remove it"
    for operation in table.operations:
        assert operation.doc.startswith("https://docs.aws.amazon.com/"), operation.id
