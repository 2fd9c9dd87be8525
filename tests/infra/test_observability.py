"""Phases 06/07: the observability stack of every environment watches everything the other stacks hold."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from config import load_all_environments
from config.names import STAGES
from config.resource_names import SAGEMAKER_JOB_LOG_GROUPS, dead_letter_queue, lambda_alarm, queue_not_empty_alarm
from stacks.observability_alarms import JOB_STEPS, WORKFLOW_ERRORS

CONFIGS = load_all_environments()


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def observability(request, synthesis):
    config = request.param
    templates = {name: s.template for name, s in synthesis.stacks.items() if name.startswith(f"{config.prefix}-")}
    return config, Template.from_json(templates[config.names.stack("observability")]), templates


def _all(templates: dict, kind: str) -> list[dict]:
    return [r.get("Properties", {}) for t in templates.values() for r in t["Resources"].values() if r["Type"] == kind]


def _alarms(template: Template) -> dict[str, dict]:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    return {alarm["Properties"]["AlarmName"]: alarm["Properties"] for alarm in alarms.values()}


def test_every_lambda_function_and_dead_letter_queue_of_the_environment_is_alarmed(observability):
    _, template, templates = observability
    alarms = _alarms(template)
    functions = [f["FunctionName"] for f in _all(templates, "AWS::Lambda::Function")]
    queues = [q["QueueName"] for q in _all(templates, "AWS::SQS::Queue")]
    assert len(functions) >= 4 and sorted(queues) == sorted(dead_letter_queue(f) for f in functions)
    for function in functions:
        assert alarms[lambda_alarm(function, "errors")]["MetricName"] == "Errors"
        assert alarms[lambda_alarm(function, "throttles")]["Dimensions"] == [
            {"Name": "FunctionName", "Value": function}
        ]
    for queue in queues:
        alarm = alarms[queue_not_empty_alarm(queue)]
        assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            1,
        )


def test_every_job_step_of_the_synthesized_pipeline_and_the_pipeline_itself_alarm(observability):
    config, template, templates = observability
    (pipeline,) = _all(templates, "AWS::SageMaker::Pipeline")
    body = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    steps = json.loads(body[0] if isinstance(body, list) else body)["Steps"]
    assert sorted(s["Name"] for s in steps if s["Type"] in ("Processing", "Training")) == sorted(JOB_STEPS)
    alarms = _alarms(template)
    for step in JOB_STEPS:
        alarm = alarms[config.names.pipeline_step_failed_alarm(step)]
        assert alarm["Namespace"] == "AWS/Sagemaker/ModelBuildingPipeline" and alarm["MetricName"] == "StepFailed"
        assert {"Name": "StepName", "Value": step} in alarm["Dimensions"]
    assert alarms[config.names.pipeline_failed_alarm]["MetricName"] == "ExecutionFailed"


def test_staging_has_the_prod_guards_5xx_and_latency_thresholds(observability):
    config, template, templates = observability
    alarms = _alarms(template)
    guards = {a["AlarmName"]: a for a in _all(templates, "AWS::CloudWatch::Alarm")}
    for suffix in ("5xx", "model-latency"):
        staging, prod = alarms[config.names.endpoint_alarm("staging", suffix)], guards[config.names.guard_alarm(suffix)]
        assert (staging["MetricName"], staging["Threshold"]) == (prod["MetricName"], prod["Threshold"])
        assert {"Name": "EndpointName", "Value": config.names.endpoint("staging")} in staging["Dimensions"]


def _flat(value) -> str:
    """The literal text of a template value (an Fn::Join's string parts joined; references dropped)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_flat(part) for part in value["Fn::Join"][1])
    return ""


def test_failed_releases_are_counted_by_the_fail_errors_the_promotion_workflow_really_ends_with(observability):
    config, template, templates = observability
    (promotion,) = [
        _flat(m["DefinitionString"])
        for m in _all(templates, "AWS::StepFunctions::StateMachine")
        if m["StateMachineName"] == config.names.promotion_state_machine
    ]
    for what, errors in WORKFLOW_ERRORS.items():
        for error in errors:
            assert f'"error":"{error}"' in promotion, error  # the Pass state that sets $.failure before the Fail
        template.has_resource_properties(
            "AWS::Logs::MetricFilter",
            {
                "LogGroupName": f"/aws/vendedlogs/states/{config.names.promotion_state_machine}",
                "FilterPattern": Match.string_like_regexp(r"ExecutionFailed.*" + ".*".join(errors)),
                "MetricTransformations": [Match.object_like({"MetricName": config.names.workflow_error_alarm(what)})],
            },
        )


def test_every_alarm_of_every_stack_alarms_the_alerts_topic(observability):
    _, _, templates = observability
    for alarm in _all(templates, "AWS::CloudWatch::Alarm") + _all(templates, "AWS::CloudWatch::CompositeAlarm"):
        assert json.dumps(alarm["AlarmActions"]).count("Alerts") == 1, alarm.get("AlarmName")


def test_release_health_combines_the_endpoint_alarms_and_the_promotion_outcome(observability):
    config, template, _ = observability
    (composite,) = template.find_resources("AWS::CloudWatch::CompositeAlarm").values()
    rule = json.dumps(composite["Properties"]["AlarmRule"])
    for name in [config.names.guard_alarm(s) for s in ("5xx", "model-errors", "model-latency")] + [
        f"{config.names.promotion_state_machine}-executions-failed"
    ]:
        assert f":alarm:{name}" in rule, name
    for local in ("Staging5xx", "StagingModelLatency", "AutoRollbackAlarm"):
        assert local in rule
    assert composite["Properties"]["AlarmName"] == config.names.release_health_alarm


def test_the_dashboard_draws_every_function_queue_workflow_and_endpoint(observability):
    config, template, templates = observability
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == config.names.dashboard
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for function in _all(templates, "AWS::Lambda::Function"):
        assert function["FunctionName"] in body and dead_letter_queue(function["FunctionName"]) in body
    for machine in _all(templates, "AWS::StepFunctions::StateMachine"):
        assert f"stateMachine:{machine['StateMachineName']}" in body
    for stage in STAGES:
        assert config.names.endpoint(stage) in body
    for text in (
        "AWS/Sagemaker/ModelBuildingPipeline",
        "ModelEvaluation: .* test rows:",
        "docs/runbooks/budget-alert.md",
    ):
        assert text in body
    assert "alarm:titanic" in body and SAGEMAKER_JOB_LOG_GROUPS[1] in body


def test_endpoint_log_groups_exist_before_any_endpoint_with_the_retention_and_key(observability):
    config, template, _ = observability
    for stage in STAGES:
        template.has_resource_properties(
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": f"/aws/sagemaker/Endpoints/{config.names.endpoint(stage)}",
                "RetentionInDays": config.log_retention_days,
                "KmsKeyId": Match.any_value(),
            },
        )


def test_the_budget_counts_both_tags_and_alerts_at_the_configured_percentages(observability):
    config, template, _ = observability
    (budget,) = template.find_resources("AWS::Budgets::Budget").values()
    data = budget["Properties"]["Budget"]
    assert data["BudgetLimit"] == {"Amount": config.cost.monthly_budget_usd, "Unit": "USD"}
    assert data["FilterExpression"] == {
        "And": [
            {"Tags": {"Key": "project", "Values": ["titanic-sagemaker"], "MatchOptions": ["EQUALS"]}},
            {"Tags": {"Key": "env", "Values": [config.name], "MatchOptions": ["EQUALS"]}},
        ]
    }
    assert "CostFilters" not in data  # they OR their values
    notifications = [n["Notification"] for n in budget["Properties"]["NotificationsWithSubscribers"]]
    expected = [("ACTUAL", p) for p in config.cost.actual_alert_percents] + [
        ("FORECASTED", config.cost.forecast_alert_percent)
    ]
    assert [(n["NotificationType"], n["Threshold"]) for n in notifications] == expected
    for entry in budget["Properties"]["NotificationsWithSubscribers"]:
        (subscriber,) = entry["Subscribers"]
        assert subscriber["SubscriptionType"] == "SNS" and "Alerts" in json.dumps(subscriber["Address"])


def test_the_orphan_report_runs_weekly_reads_only_and_publishes_to_the_topic(observability):
    config, template, _ = observability
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "Name": config.names.orphan_report_schedule,
            "ScheduleExpression": config.cost.orphan_report_schedule,
            "ScheduleExpressionTimezone": config.cost.timezone,
            "Description": Match.string_like_regexp("Runbook: docs/runbooks/orphan-found.md$"),
        },
    )
    # The endpoint sleeper's policies (dev) delete endpoints by design; the report's and everything else's only read.
    policies = template.find_resources("AWS::IAM::Policy")
    actions = {
        action
        for logical_id, policy in policies.items()
        if not logical_id.startswith("EndpointSleeper")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    writes = {a for a in actions if a.split(":")[1].startswith(("Delete", "Stop", "Update", "Create", "Put"))}
    assert writes == {"logs:PutLogEvents", "logs:CreateLogStream", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert {"sns:Publish", "dynamodb:Query", "sagemaker:ListEndpoints", "lambda:InvokeFunction"} <= actions


def test_endpoints_sleep_only_where_the_config_says_so_on_its_schedule_and_time_zone(observability):
    config, template, _ = observability
    names, cost = config.names, config.cost
    schedules = {
        s["Properties"]["Name"]: s["Properties"] for s in template.find_resources("AWS::Scheduler::Schedule").values()
    }
    functions = [f["Properties"]["FunctionName"] for f in template.find_resources("AWS::Lambda::Function").values()]
    sleep_schedules = {
        name: schedules.get(name) for name in map(names.endpoint_sleep_schedule, ("after-hours", "idle"))
    }
    if not cost.endpoints_sleep:
        assert names.endpoint_sleeper_function not in functions
        assert set(sleep_schedules.values()) == {None}
        return
    assert names.endpoint_sleeper_function in functions
    after_hours, idle = sleep_schedules.values()
    assert (after_hours["ScheduleExpression"], json.loads(after_hours["Target"]["Input"])) == (
        cost.sleep_schedule,
        {"action": "sleep"},
    )
    assert (idle["ScheduleExpression"], json.loads(idle["Target"]["Input"])) == (
        "rate(1 hour)",
        {"action": "sleep-idle"},
    )
    assert after_hours["ScheduleExpressionTimezone"] == idle["ScheduleExpressionTimezone"] == cost.timezone
