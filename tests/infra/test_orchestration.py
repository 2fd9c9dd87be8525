"""Phase 06 (orchestration): workflows, what starts them, and the definition's deployment settings per environment."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Match, Template

from config import load_all_environments
from config.names import DATASET_EVENT_DETAIL_TYPE, DATASET_EVENT_SOURCE
from constructs.promotion.guardrails import deployment_config
from constructs.python_function import powertools_layer_parameter
from tests.workflows.asl import Resolver

CONFIGS = load_all_environments()


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def orchestration(request, synthesis):
    config = request.param
    name = config.names.stack("orchestration")
    return config, Template.from_json(synthesis.stacks[name].template), synthesis


def _definition(synthesis, config, machine: str) -> dict:
    templates = {name: stack.template for name, stack in synthesis.stacks.items()}
    return Resolver(templates, {}).definition(config.names.stack("orchestration"), f"{config.prefix}-{machine}")


def test_both_workflows_exist_log_everything_and_trace(orchestration):
    config, template, _ = orchestration
    for machine in ("promotion", "retraining"):
        template.has_resource_properties(
            "AWS::StepFunctions::StateMachine",
            {
                "StateMachineName": f"{config.prefix}-{machine}",
                "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
                "TracingConfiguration": {"Enabled": True},
            },
        )


def test_both_workflows_log_to_groups_encrypted_with_the_environment_key(orchestration):
    config, template, _ = orchestration
    groups = {
        group["Properties"]["LogGroupName"]: group for group in template.find_resources("AWS::Logs::LogGroup").values()
    }
    machines = [f"/aws/vendedlogs/states/{config.prefix}-{machine}" for machine in ("promotion", "retraining")]
    assert set(machines) <= set(groups)
    for group in (groups[name] for name in machines):
        assert "Key961B73FD" in json.dumps(group["Properties"]["KmsKeyId"])  # the foundation key, imported
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days


def test_an_approved_package_of_this_group_starts_a_release(orchestration):
    config, template, _ = orchestration
    rule = template.find_resources(
        "AWS::Events::Rule", {"Properties": {"Name": config.names.package_approved_rule}}
    ).popitem()[1]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [config.names.model_package_group], "ModelApprovalStatus": ["Approved"]},
    }
    (target,) = rule["Targets"]
    assert target["InputTransformer"]["InputPathsMap"] == {"detail-ModelPackageArn": "$.detail.ModelPackageArn"}
    assert json.loads(target["InputTransformer"]["InputTemplate"].replace("<detail-ModelPackageArn>", '"ARN"')) == {
        "model_package_arn": "ARN",
        "actor": "eventbridge:package-approved",
        "mode": "release",
    }


def test_dataset_event_and_schedule_start_retraining(orchestration):
    config, template, _ = orchestration
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": config.names.dataset_validated_rule,
            "EventPattern": {"source": [DATASET_EVENT_SOURCE], "detail-type": [DATASET_EVENT_DETAIL_TYPE]},
        },
    )
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": config.orchestration.retrain_schedule,
            "ScheduleExpressionTimezone": config.orchestration.retrain_timezone,
            "State": "ENABLED" if config.orchestration.retrain_schedule_enabled else "DISABLED",
            "Target": Match.object_like({"Input": '{"trigger": "schedule"}'}),
        },
    )


def test_prod_rollout_uses_guardrails_from_config_and_staging_does_not(orchestration):
    config, _, synthesis = orchestration
    states = _definition(synthesis, config, "promotion")["States"]
    alarms = tuple(config.names.guard_alarm(suffix) for suffix in ("5xx", "model-errors", "model-latency"))
    assert states["UpdateProdEndpoint"]["Parameters"]["DeploymentConfig"] == deployment_config(
        config.serving.prod, alarms
    )
    assert "DeploymentConfig" not in states["UpdateStagingEndpoint"]["Parameters"]
    assert states["RequestApproval"]["TimeoutSeconds"] == config.orchestration.approval_timeout_hours * 3600
    assert states["RequestApproval"]["Resource"].endswith("sns:publish.waitForTaskToken")
    assert states["WaitProdEndpoint"]["Seconds"] == config.serving.endpoint_poll_seconds
    variant = states["CreateProdEndpointConfig"]["Parameters"]["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == (
        config.serving.prod.instance_type,
        config.serving.prod.instance_count,
    )
    assert states["SmokeTestProd"]["Parameters"]["Payload"]["latency_budget_ms"] == config.serving.latency_budget_ms
    # No .sync integrations: waiting is done with Wait + Describe loops.
    assert not [name for name, state in states.items() if state.get("Resource", "").endswith(".sync")]


def test_workflow_roles_pass_only_the_endpoint_role_to_sagemaker(orchestration):
    _, template, _ = orchestration
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions
            if "iam:PassRole" in actions:
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
                assert "Fn::ImportValue" in json.dumps(statement["Resource"])


def test_smoke_lambda_runs_with_powertools_and_may_only_invoke_the_two_endpoints(orchestration):
    config, template, _ = orchestration
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": config.names.smoke_test_function,
            "Runtime": "python3.13",
            "Handler": "handler.handler",
        },
    )
    function = next(iter(template.find_resources("AWS::Lambda::Function").values()))
    assert function["Properties"]["Layers"] == [f"{{{{resolve:ssm:{powertools_layer_parameter()}}}}}"]
    policies = [
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if "SmokeTestRole" in json.dumps(p["Properties"]["Roles"])
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    invoke = next(s for s in statements if s["Action"] == "sagemaker:InvokeEndpoint")
    assert sorted(r["Fn::Join"][1][-1] for r in invoke["Resource"]) == [
        f":endpoint/{config.names.endpoint('prod')}",
        f":endpoint/{config.names.endpoint('staging')}",
    ]


def test_a_failed_timed_out_or_aborted_execution_of_either_workflow_alerts(orchestration):
    config, template, _ = orchestration
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    for machine, logical_id in (("promotion", "PromotionStateMachine"), ("retraining", "RetrainingStateMachine")):
        alarm = alarms[f"{config.prefix}-{machine}-executions-failed"]
        assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1, 1)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        (action,) = alarm["AlarmActions"]
        assert re.fullmatch(rf"{config.prefix}-foundation:ExportsOutputRefAlerts\w+", action["Fn::ImportValue"])
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        assert metrics.pop("expr_1")["Expression"] == "failed + timed_out + aborted"
        assert {m["MetricStat"]["Metric"]["MetricName"] for m in metrics.values()} == {
            "ExecutionsFailed",
            "ExecutionsTimedOut",
            "ExecutionsAborted",
        }
        for metric in metrics.values():
            (dimension,) = metric["MetricStat"]["Metric"]["Dimensions"]
            assert dimension["Name"] == "StateMachineArn"
            assert dimension["Value"]["Ref"].startswith(logical_id)


def test_orchestration_deploys_after_the_training_pipeline_it_starts(orchestration):
    config, _, synthesis = orchestration
    manifest = json.loads((synthesis.outdir / "manifest.json").read_text())
    dependencies = manifest["artifacts"][config.names.stack("orchestration")]["dependencies"]
    assert config.names.stack("training") in dependencies


def test_both_workflow_roles_may_use_the_key_that_encrypts_the_alerts_topic(orchestration):
    _, template, _ = orchestration
    roles = {logical_id for logical_id in template.find_resources("AWS::IAM::Role") if "StateMachineRole" in logical_id}
    assert len(roles) == 2
    for policy in template.find_resources("AWS::IAM::Policy").values():
        (role,) = policy["Properties"]["Roles"]
        if role["Ref"] not in roles:
            continue
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        [publish] = [s for s in statements if s.get("Sid") == "PublishToTheEncryptedAlertsTopic"]
        assert sorted(publish["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        roles.discard(role["Ref"])
    assert not roles


def test_prod_updates_keep_capacity_and_describe_failures_other_than_not_found_alert(orchestration):
    config, _, synthesis = orchestration
    states = _definition(synthesis, config, "promotion")["States"]
    for state in ("UpdateProdEndpoint", "RestoreProdEndpoint"):
        assert states[state]["Parameters"]["RetainAllVariantProperties"] is True
    assert "RetainAllVariantProperties" not in states["UpdateStagingEndpoint"]["Parameters"]
    for stage in ("Staging", "Prod"):
        (rule,) = states[f"{stage}EndpointMissing"]["Choices"]
        assert rule["StringMatches"] == "*Could not find endpoint*"
        assert rule["Next"] == f"No{stage}EndpointYet"
        assert states[f"{stage}EndpointMissing"]["Default"] == f"{stage}NotDescribed"
    assert states["ProdInstanceTypeChanges"]["Choices"][0]["StringEquals"] == config.serving.prod.instance_type
