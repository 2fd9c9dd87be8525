"""Phase 06 (model monitoring): in every environment, the drift-check schedule, function, alarms, the alarm ->
retraining rule, and the capture lifecycle, checked in the synthesized templates."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest

from config import load_all_environments
from config.names import DRIFT_METRICS_NAMESPACE, RETRAIN_ON_DRIFT_STAGES, STAGES, VARIANT_NAME
from constructs.drift_monitor import SHARED_FILES, max_window_mb
from ml.drift import Thresholds

CONFIGS = load_all_environments()
ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = re.compile(r"Runbook: (docs/runbooks/[a-z0-9-]+\.md)$")


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def monitor(request, synthesis):
    config = request.param
    template = synthesis.stacks[config.names.stack("orchestration")].template
    return config, template["Resources"], synthesis


def _of_type(resources: dict, kind: str) -> dict[str, dict]:
    return {key: r for key, r in resources.items() if r["Type"] == kind}


def _function(config, resources) -> tuple[str, dict]:
    (found,) = [
        (key, r["Properties"])
        for key, r in _of_type(resources, "AWS::Lambda::Function").items()
        if r["Properties"]["FunctionName"] == config.names.drift_check_function
    ]
    return found


def test_the_check_function_is_configured_from_the_monitoring_settings(monitor):
    config, resources, _ = monitor
    names, settings = config.names, config.monitoring
    _, function = _function(config, resources)
    assert function["MemorySize"] == settings.check_memory_mb and function["Timeout"] == settings.check_timeout_seconds
    variables = function["Environment"]["Variables"]
    assert {k: variables[k] for k in ("CAPTURE_PREFIX", "BASELINES_PREFIX", "REPORTS_PREFIX", "RESOURCE_PREFIX")} == {
        "CAPTURE_PREFIX": f"data-capture/{config.name}/",
        "BASELINES_PREFIX": f"pipelines/{names.pipeline}/baselines/",
        "REPORTS_PREFIX": f"drift-reports/{config.name}/",
        "RESOURCE_PREFIX": f"{config.prefix}-",
    }
    assert variables["WINDOW_HOURS"] == str(settings.window_hours)
    assert variables["MAX_WINDOW_MB"] == str(max_window_mb(settings.check_memory_mb))
    assert variables["DRIFT_METRICS_NAMESPACE"] == DRIFT_METRICS_NAMESPACE
    assert json.loads(variables["DRIFT_THRESHOLDS"]) == asdict(Thresholds.from_settings(settings))


def test_the_function_ships_the_drift_check_and_nothing_that_needs_numpy(monitor):
    config, resources, synthesis = monitor
    _, function = _function(config, resources)
    asset_hash = function["Code"]["S3Key"].split(".", 1)[0]
    assets = json.loads((synthesis.outdir / f"{config.names.stack('orchestration')}.assets.json").read_text())
    folder = synthesis.outdir / assets["files"][asset_hash]["source"]["path"]
    shipped = sorted(str(path.relative_to(folder)) for path in folder.rglob("*.py"))
    assert shipped == sorted(["handler.py", "served_model.py", *SHARED_FILES])
    for module in SHARED_FILES:
        assert not re.search(r"^\s*(import|from) (numpy|sklearn|scipy|pandas)", (folder / module).read_text(), re.M)


def test_a_schedule_per_environment_starts_the_check_for_every_endpoint(monitor):
    config, resources, _ = monitor
    function_key, _ = _function(config, resources)
    (schedule,) = [
        r["Properties"]
        for r in _of_type(resources, "AWS::Scheduler::Schedule").values()
        if r["Properties"]["Name"] == config.names.drift_check_schedule
    ]
    assert schedule["ScheduleExpression"] == config.monitoring.schedule
    assert schedule["ScheduleExpressionTimezone"] == "UTC" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [function_key, "Arn"]}
    payload = json.loads(schedule["Target"]["Input"])
    assert payload == {"endpoints": config.names.endpoints, "window_end": "<aws.scheduler.scheduled-time>"}


def test_each_endpoint_has_a_drift_and_a_schema_alarm_naming_its_runbook(monitor):
    config, resources, _ = monitor
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"] for r in _of_type(resources, "AWS::CloudWatch::Alarm").values()
    }
    for stage in STAGES:
        endpoint = config.names.endpoint(stage)
        expected = {
            config.names.drift_alarm(stage): ("DriftedFeatures", 1, "GreaterThanOrEqualToThreshold"),
            config.names.capture_schema_alarm(stage): (
                "SchemaViolationRate",
                config.monitoring.violation_rate_max,
                "GreaterThanThreshold",
            ),
        }
        for name, (metric, threshold, comparison) in expected.items():
            alarm = alarms[name]
            assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
                DRIFT_METRICS_NAMESPACE,
                metric,
                "Maximum",
            )
            assert alarm["Dimensions"] == [
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": VARIANT_NAME},
            ]
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (threshold, comparison)
            assert alarm["TreatMissingData"] == "ignore" and alarm["Period"] == 3600
            assert "alerts" in json.dumps(alarm["AlarmActions"]).lower()
            runbook = RUNBOOK.search(alarm["AlarmDescription"])
            assert runbook and (ROOT / runbook[1]).is_file(), alarm["AlarmDescription"]


def test_the_prod_drift_alarm_entering_alarm_starts_a_drift_retraining(monitor):
    config, resources, _ = monitor
    (rule,) = [
        r["Properties"]
        for r in _of_type(resources, "AWS::Events::Rule").values()
        if r["Properties"]["Name"] == config.names.drift_retraining_rule
    ]
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "alarmName": [config.names.drift_alarm(stage) for stage in RETRAIN_ON_DRIFT_STAGES],
            "state": {"value": ["ALARM"]},
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"]["Ref"].startswith("RetrainingStateMachine")
    template = target["InputTransformer"]["InputTemplate"].replace("<detail-alarmName>", '"ALARM_NAME"')
    assert json.loads(template) == {"trigger": "drift", "alarm": "ALARM_NAME"}


def test_the_check_may_read_capture_and_baselines_and_write_only_reports(monitor):
    config, resources, _ = monitor
    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for key, r in _of_type(resources, "AWS::IAM::Policy").items()
        if key.startswith("DriftMonitorCheckPolicy")
    ]
    by_sid = {statement["Sid"]: statement for statement in policy}
    assert set(by_sid) == {
        "ReadCapture",
        "ListCaptureWindow",
        "ReadPublishedBaselines",
        "WriteReports",
        "DescribeEndpoints",
        "DescribeServedModels",
        "DescribeServedPackages",
        "PublishDriftMetrics",
    }
    objects = {sid: json.dumps(by_sid[sid]["Resource"]) for sid in ("ReadCapture", "ReadPublishedBaselines")}
    assert objects["ReadCapture"].endswith(f'/data-capture/{config.name}/*"]]}}')
    assert objects["ReadPublishedBaselines"].endswith(f'/pipelines/{config.names.pipeline}/baselines/*"]]}}')
    assert json.dumps(by_sid["WriteReports"]["Resource"]).endswith(f'/drift-reports/{config.name}/*"]]}}')
    assert [s["Action"] for s in policy if "s3:PutObject" in json.dumps(s["Action"])] == ["s3:PutObject"]
    assert by_sid["PublishDriftMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": DRIFT_METRICS_NAMESPACE}
    }


def test_captured_traffic_expires_after_capture_expiration_days(synthesis):
    for config in CONFIGS:
        resources = synthesis.stacks[config.names.stack("foundation")].template["Resources"]
        rules = [
            rule
            for bucket in _of_type(resources, "AWS::S3::Bucket").values()
            for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
            if rule["Id"] == "expire-data-capture"
        ]
        assert rules == [
            {
                "Id": "expire-data-capture",
                "Prefix": f"{config.names.data_capture_prefix}/",
                "ExpirationInDays": config.monitoring.capture_expiration_days,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                "Status": "Enabled",
            }
        ], config.name
