"""Phase 06: the scheduled drift check of each endpoint's captured traffic against its model's training baseline.

EventBridge Scheduler invokes it (stacks/orchestration.py, constructs/drift_monitor.py) with
{"endpoints": {stage: endpoint name}, "window_end": "<the schedule's scheduled time>"}. For each endpoint:
1. what it serves, followed to the model's published baseline (served_model.py); an endpoint that does not exist is
   skipped with a log line, a model without a baseline is reported and skipped;
2. the capture of the `WINDOW_HOURS` complete hours before `window_end`
   (`<CAPTURE_PREFIX><endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`, ml/capture.py), every file parsed; a file that is
   not in the capture format is counted and named in the report, the others are still checked;
3. ml/drift.py's check with the environment's thresholds; the JSON report to
   `<REPORTS_PREFIX><endpoint>/<variant>/yyyy/mm/dd/hh/drift-report.json` (the hour of window_end);
4. drift.metrics(report) to CloudWatch (`DRIFT_METRICS_NAMESPACE`, dimensions EndpointName and VariantName, plus
   Feature for per-feature metrics), timestamped at window_end, and UnreadableCaptureFiles.

The same window always gives the same report and data points (a retried invocation overwrites them). Any other
failure of an endpoint (AWS error, foreign resource, unreadable baseline, window too large) is logged, the other
endpoints are still checked, and the invocation then fails naming them (Lambda retries, then its dead-letter queue).
Reads only the capture and baselines prefixes; writes only the reports prefix (its role allows nothing else).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from served_model import EndpointAbsent, ForeignResource, NoBaseline, Ownership, ServedModel, served_model

from ml import baseline, capture, drift

logger = Logger()
tracer = Tracer()
METRIC_BATCH = 20  # datums per PutMetricData request: well inside the API's limits on count and size
_clients: dict[str, Any] = {}


def _client(service: str):
    if service not in _clients:  # one client per container, created on first use (tests create them inside moto)
        _clients[service] = boto3.client(service)
    return _clients[service]


class WindowTooLarge(Exception):
    """The window's capture would not fit in the function's memory: checked before anything is downloaded."""


class DriftCheckFailed(Exception):
    """One or more endpoints could not be checked (each is logged with its reason)."""


@dataclass(frozen=True)
class Settings:
    """The function's environment variables (constructs/drift_monitor.py sets them from config)."""

    bucket: str
    capture_prefix: str
    reports_prefix: str
    variant: str
    window_hours: int
    namespace: str
    max_window_bytes: int
    thresholds: drift.Thresholds
    ownership: Ownership

    @classmethod
    def from_environment(cls) -> Settings:
        bucket, baselines = os.environ["ARTIFACTS_BUCKET"], os.environ["BASELINES_PREFIX"]
        return cls(
            bucket=bucket,
            capture_prefix=os.environ["CAPTURE_PREFIX"],
            reports_prefix=os.environ["REPORTS_PREFIX"],
            variant=os.environ["VARIANT_NAME"],
            window_hours=int(os.environ["WINDOW_HOURS"]),
            namespace=os.environ["DRIFT_METRICS_NAMESPACE"],
            max_window_bytes=int(os.environ["MAX_WINDOW_MB"]) * 1024 * 1024,
            thresholds=drift.Thresholds.from_settings(json.loads(os.environ["DRIFT_THRESHOLDS"])),
            ownership=Ownership(
                resource_prefix=os.environ["RESOURCE_PREFIX"],
                package_arn_prefix=os.environ["MODEL_PACKAGE_ARN_PREFIX"],
                baselines_uri_prefix=f"s3://{bucket}/{baselines}",
            ),
        )


def window_end(event: dict[str, Any]) -> datetime:
    """The schedule's scheduled time (ISO 8601), so a retry checks the same window; now for a manual invocation."""
    value = event.get("window_end")
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_window(endpoint: str, end: datetime, settings: Settings) -> tuple[list[capture.Record], dict[str, Any]]:
    """Every capture record of the window, and what was read: prefixes, files, bytes, unreadable files."""
    prefixes = capture.window_prefixes(settings.capture_prefix, endpoint, settings.variant, end, settings.window_hours)
    s3 = _client("s3")
    objects: list[tuple[str, int]] = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
            objects += [(item["Key"], item["Size"]) for item in page.get("Contents", [])]
    total = sum(size for _, size in objects)
    if total > settings.max_window_bytes:
        raise WindowTooLarge(
            f"{endpoint}: the window holds {total / 1024**2:.1f} MB of capture in {len(objects)} files, more than the "
            f"{settings.max_window_bytes / 1024**2:.0f} MB this function's memory is sized for ([monitoring] "
            "check_memory_mb, window_hours)"
        )
    records: list[capture.Record] = []
    unreadable: list[dict[str, Any]] = []
    for key, _ in sorted(objects):
        source = f"s3://{settings.bucket}/{key}"
        data = s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
        try:
            records += capture.parse_lines(data.decode("utf-8"), source)
        except UnicodeDecodeError as error:
            unreadable.append({"source": source, "line": data.count(b"\n", 0, error.start) + 1, "reason": "not UTF-8"})
        except capture.CaptureFormatError as error:
            unreadable.append({"source": error.source, "line": error.line, "reason": error.reason})
    for problem in unreadable:
        logger.error("capture file not in the data-capture format: not checked", extra=problem)
    read = {"prefixes": prefixes, "files": len(objects), "bytes": total, "unreadable_files": unreadable}
    return records, read


def publish(report: dict[str, Any], served: ServedModel, end: datetime, settings: Settings) -> int:
    """drift.metrics(report) plus UnreadableCaptureFiles, with the endpoint's dimensions; the number of data points."""
    unreadable = len(report["capture"]["unreadable_files"])
    metrics = [*drift.metrics(report), {"name": "UnreadableCaptureFiles", "value": unreadable, "unit": "Count"}]
    base = {"EndpointName": served.endpoint, "VariantName": served.variant}
    data = [
        {
            "MetricName": metric["name"],
            "Dimensions": [{"Name": k, "Value": v} for k, v in {**base, **metric.get("dimensions", {})}.items()],
            "Timestamp": end,
            "Value": float(metric["value"]),
            "Unit": metric["unit"],
        }
        for metric in metrics
    ]
    cloudwatch = _client("cloudwatch")
    for start in range(0, len(data), METRIC_BATCH):
        cloudwatch.put_metric_data(Namespace=settings.namespace, MetricData=data[start : start + METRIC_BATCH])
    return len(data)


def check_endpoint(endpoint: str, end: datetime, settings: Settings) -> dict[str, Any]:
    served = served_model(_client("sagemaker"), endpoint, settings.variant, settings.ownership)
    bucket, key = _split_uri(served.baseline_uri)
    reference = baseline.loads(_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read(), served.baseline_uri)
    records, read = read_window(endpoint, end, settings)
    report = drift.check(records, reference, settings.thresholds)
    report["capture"] = read
    report["inputs"] = {**served.to_dict(), "window_end": end.isoformat(), "window_hours": settings.window_hours}
    report_key = f"{settings.reports_prefix}{capture.hour_folder(endpoint, settings.variant, end)}/{drift.REPORT_FILE}"
    _client("s3").put_object(
        Bucket=settings.bucket,
        Key=report_key,
        Body=(json.dumps(report, indent=2, sort_keys=True) + "\n").encode("utf-8"),
        ContentType="application/json",
    )
    points = publish(report, served, end, settings)
    summary = {
        "endpoint": endpoint,
        "status": report["status"],
        "alarms": report["alarms"],
        "records": report["traffic"]["records"],
        "violation_rate": report["violations"]["rate"],
        "files": read["files"],
        "unreadable_files": len(read["unreadable_files"]),
        "model_package": served.model_package,
        "report": f"s3://{settings.bucket}/{report_key}",
        "metrics": points,
    }
    logger.info("drift check done", extra=summary)
    return summary


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    endpoints = event.get("endpoints")
    if not isinstance(endpoints, dict) or not endpoints:
        raise ValueError('the event names no endpoints: expected {"endpoints": {"<stage>": "<endpoint name>"}}')
    settings, end = Settings.from_environment(), window_end(event)
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for stage, endpoint in sorted(endpoints.items()):
        try:
            results[stage] = check_endpoint(endpoint, end, settings)
        except EndpointAbsent as absent:
            results[stage] = {"endpoint": endpoint, "status": "skipped", "reason": str(absent)}
            logger.info("endpoint skipped: it does not exist", extra=results[stage])
        except NoBaseline as missing:
            results[stage] = {"endpoint": endpoint, "status": "no_baseline", "reason": str(missing)}
            logger.warning("endpoint not checked: its model has no baseline", extra=results[stage])
        except (ClientError, ForeignResource, baseline.BaselineError, WindowTooLarge) as error:
            failures[stage] = f"{endpoint}: {error}"
            logger.exception("endpoint could not be checked", extra={"endpoint": endpoint})
    if failures:
        raise DriftCheckFailed("; ".join(failures[stage] for stage in sorted(failures)))
    return {"window_end": end.isoformat(), "endpoints": results}
