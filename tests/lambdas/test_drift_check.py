"""The drift-check Lambda handler under moto: capture objects in, a report and CloudWatch metrics out, per endpoint.

The endpoint is followed to its baseline the way the deployed function follows it (describe endpoint, config, model,
package); the capture objects are written with ml/capture.py; metrics are read back with list_metrics and
get_metric_statistics.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from ml import capture, drift

from .conftest import LambdaContext
from .drift_world import (
    BUCKET,
    CSV,
    HANDLER_FOLDER,
    JSON,
    NAMES,
    PROD,
    STAGING,
    WITH_CSV_TYPES,
    World,
    environment,
    shifted,
    split,
)

END = datetime(2026, 11, 30, 13, 20, tzinfo=UTC)  # the scheduled time: the window is 2026-11-29 13h .. 11-30 12h
EVENT = {"endpoints": {"prod": PROD, "staging": STAGING}, "window_end": "2026-11-30T13:20:00Z"}
CONTEXT = LambdaContext(function_name=NAMES.drift_check_function)


@pytest.fixture
def check(monkeypatch):
    """(handler module, moto world) with the function's environment as the construct sets it."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    monkeypatch.syspath_prepend(str(HANDLER_FOLDER))  # served_model.py sits beside handler.py, as in the asset
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        spec = importlib.util.spec_from_file_location("drift_check_handler", HANDLER_FOLDER / "handler.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses resolve their module while defined
        spec.loader.exec_module(module)
        yield module, World()


def test_traffic_like_training_is_no_drift_and_publishes_every_metric(check):
    handler, world = check
    world.release(PROD, world.register())
    people = split("test")
    world.capture(PROD, people[:70], datetime(2026, 11, 30, 10, 0, tzinfo=UTC), content_types=WITH_CSV_TYPES)
    world.capture(PROD, people[70:], datetime(2026, 11, 30, 11, 0, tzinfo=UTC))  # CSV requests captured as BASE64

    result = handler.handler(EVENT, CONTEXT)

    prod = result["endpoints"]["prod"]
    assert prod["status"] == drift.OK and prod["alarms"] == [] and prod["records"] == len(people)
    assert result["endpoints"]["staging"]["status"] == "skipped"  # never released: a log line, not an error
    report = world.report(PROD, END)
    assert report["traffic"]["records"] == len(people) and report["violations"]["rate"] == 0
    assert report["inputs"]["model_package"].endswith(f"{NAMES.model_package_group}/1")
    assert report["inputs"]["baseline_uri"].startswith(f"s3://{BUCKET}/{NAMES.pipeline_baselines_prefix}/")
    assert world.report_keys() == [f"{NAMES.drift_reports_prefix}/{PROD}/AllTraffic/2026/11/30/13/drift-report.json"]
    assert {"CapturedRecords", "DriftDetected", "DriftedFeatures", "SchemaViolationRate", "FeaturePSI"} <= (
        world.metric_names(PROD)
    )
    assert world.metric(PROD, "CapturedRecords", END) == len(people)
    assert world.metric(PROD, "DriftDetected", END) == 0
    assert world.metric(PROD, "DriftedFeatures", END) == 0
    assert world.metric(PROD, "FeaturePSI", END, Feature="Fare") < 0.25
    assert world.metric(PROD, "PositiveRate", END) is not None
    assert world.metric_names(STAGING) == set()


def test_every_capture_encoding_is_read(check):
    handler, world = check
    world.release(PROD, world.register())
    people = split("test")
    hour = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    world.capture(PROD, people[:60], hour, plan=((2, JSON),))  # JSON as text
    world.capture(PROD, people[60:100], hour.replace(hour=10), plan=((2, CSV),), content_types=WITH_CSV_TYPES)
    world.capture(PROD, people[100:], hour.replace(hour=11), plan=((2, CSV),))  # CSV as BASE64
    encodings = {
        json.loads(line)["captureData"]["endpointInput"]["encoding"]
        for key in world.s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        if key["Key"].startswith(f"{NAMES.data_capture_prefix}/")
        for line in world.s3.get_object(Bucket=BUCKET, Key=key["Key"])["Body"].read().decode().splitlines()
    }
    assert encodings == set(capture.ENCODINGS)

    result = handler.handler({**EVENT, "endpoints": {"prod": PROD}}, CONTEXT)

    assert result["endpoints"]["prod"]["records"] == len(people)
    assert world.report(PROD, END)["violations"]["rate"] == 0


def test_a_shifted_population_is_drift_naming_the_features(check):
    handler, world = check
    world.release(PROD, world.register())
    people = shifted(split("train"))
    world.capture(PROD, people, datetime(2026, 11, 30, 9, 0, tzinfo=UTC))

    result = handler.handler(EVENT, CONTEXT)

    assert result["endpoints"]["prod"]["status"] == drift.DRIFT
    report = world.report(PROD, END)
    assert {"Pclass", "Fare", "Age"} <= set(report["alarms"])
    assert world.metric(PROD, "DriftDetected", END) == 1
    assert world.metric(PROD, "DriftedFeatures", END) == len(report["alarms"])
    assert world.metric(PROD, "FeaturePSI", END, Feature="Pclass") > 1
    assert world.metric(PROD, "FeatureMissingRate", END, Feature="Age") > 0.7


def test_only_the_window_is_read_and_too_little_traffic_is_not_judged(check):
    handler, world = check
    world.release(PROD, world.register())
    people = split("test")
    world.capture(PROD, people[:40], datetime(2026, 11, 30, 12, 0, tzinfo=UTC))  # the window's last hour
    world.capture(PROD, people[40:], datetime(2026, 11, 30, 13, 0, tzinfo=UTC))  # the current hour: still arriving
    world.capture(PROD, people, datetime(2026, 11, 29, 10, 0, tzinfo=UTC))  # the day before: out of the window

    result = handler.handler(EVENT, CONTEXT)

    assert result["endpoints"]["prod"]["status"] == drift.NOT_ENOUGH_TRAFFIC
    assert result["endpoints"]["prod"]["records"] == 40
    assert world.metric_names(PROD) == {"CapturedRecords", "UnreadableCaptureFiles"}  # the alarms see no data
    assert world.metric(PROD, "CapturedRecords", END) == 40


def test_a_malformed_capture_file_is_named_and_the_rest_is_still_checked(check):
    handler, world = check
    world.release(PROD, world.register())
    world.capture(PROD, split("test"), datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    broken = world.put_capture_file(f"{PROD}/AllTraffic/2026/11/30/11", '{"captureData": {"endpointInput": \n')

    result = handler.handler(EVENT, CONTEXT)

    assert result["endpoints"]["prod"]["status"] == drift.OK and result["endpoints"]["prod"]["unreadable_files"] == 1
    (problem,) = world.report(PROD, END)["capture"]["unreadable_files"]
    assert problem["source"] == f"s3://{BUCKET}/{broken}" and problem["line"] == 1
    assert world.metric(PROD, "UnreadableCaptureFiles", END) == 1


def test_a_model_without_a_published_baseline_is_reported_not_failed(check):
    handler, world = check
    world.release(PROD, world.register(with_baseline=False))
    world.capture(PROD, split("test"), datetime(2026, 11, 30, 10, 0, tzinfo=UTC))

    result = handler.handler(EVENT, CONTEXT)

    assert result["endpoints"]["prod"]["status"] == "no_baseline"
    assert world.report_keys() == [] and world.metric_names(PROD) == set()


def test_a_failing_endpoint_fails_the_invocation_after_the_others_are_checked(check):
    handler, world = check
    world.release(PROD, world.register())
    world.release(STAGING, world.register(execution="exec-2", document={"baseline_version": 99}))
    world.capture(PROD, split("test"), datetime(2026, 11, 30, 10, 0, tzinfo=UTC))

    with pytest.raises(handler.DriftCheckFailed, match=f"{STAGING}: .*baseline_version 99"):
        handler.handler(EVENT, CONTEXT)

    assert world.report(PROD, END)["status"] == drift.OK  # prod was still checked and published
    assert world.metric(PROD, "CapturedRecords", END) == len(split("test"))


def test_a_window_larger_than_the_memory_allows_is_refused_before_reading(check, monkeypatch):
    handler, world = check
    monkeypatch.setenv("MAX_WINDOW_MB", "0")
    world.release(PROD, world.register())
    world.capture(PROD, split("test"), datetime(2026, 11, 30, 10, 0, tzinfo=UTC))

    with pytest.raises(handler.DriftCheckFailed, match="more than the 0 MB"):
        handler.handler(EVENT, CONTEXT)
    assert world.report_keys() == []


def test_an_endpoint_leading_outside_the_environment_is_refused(check):
    handler, world = check
    package = world.register()
    role = "arn:aws:iam::123456789012:role/someone"
    world.sm.create_model(ModelName="hand-made", ExecutionRoleArn=role, PrimaryContainer={"ModelPackageName": package})
    variant = {"VariantName": "AllTraffic", "ModelName": "hand-made", "InstanceType": "ml.t2.medium"}
    world.sm.create_endpoint_config(EndpointConfigName=f"{PROD}-manual", ProductionVariants=[variant])
    world.sm.create_endpoint(EndpointName=PROD, EndpointConfigName=f"{PROD}-manual")

    with pytest.raises(handler.DriftCheckFailed, match="model 'hand-made' is not one of this environment's"):
        handler.handler(EVENT, CONTEXT)


def test_an_event_without_endpoints_is_refused(check):
    handler, _ = check
    with pytest.raises(ValueError, match="names no endpoints"):
        handler.handler({"window_end": EVENT["window_end"]}, CONTEXT)
