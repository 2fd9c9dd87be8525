"""Phase 01: validate each object created under the raw prefix against the passenger schema (ml/schema.py).

Valid   -> server-side copy to the curated prefix, then a `DatasetValidated` event on the default event bus.
Invalid -> copy to the quarantine prefix, a JSON report beside it, then an alert on the alerts topic.
The raw object is only ever read (by version id): never rewritten, tagged or deleted.

Idempotent per object version: the destination carries the source version id in its metadata and a
`titanic-outcome=notified` tag once the event or alert went out, so a retried invocation of the same version
finds the work done and returns the same outcome without a second copy, event or alert.
Triggered by EventBridge "Object Created" events (S3 EventBridge notifications); configured by environment variables
the data stack sets (it never imports infrastructure code).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ml.schema import Problem, ValidationReport, validate_csv_bytes

logger = Logger()
tracer = Tracer()
metrics = Metrics()

NOTIFIED_TAG = {"Key": "titanic-outcome", "Value": "notified"}
COPY_OBJECT_LIMIT = 5 * 1024**3  # S3 CopyObject copies at most 5 GiB in one request


@dataclass(frozen=True)
class Settings:
    bucket: str
    raw_prefix: str
    curated_prefix: str
    quarantine_prefix: str
    event_source: str
    event_detail_type: str
    event_bus_name: str
    alerts_topic_arn: str
    max_object_bytes: int

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            bucket=env["DATA_BUCKET"],
            raw_prefix=env["RAW_PREFIX"],
            curated_prefix=env["CURATED_PREFIX"],
            quarantine_prefix=env["QUARANTINE_PREFIX"],
            event_source=env["EVENT_SOURCE"],
            event_detail_type=env["EVENT_DETAIL_TYPE"],
            event_bus_name=env["EVENT_BUS_NAME"],
            alerts_topic_arn=env["ALERTS_TOPIC_ARN"],
            max_object_bytes=int(env["MAX_OBJECT_BYTES"]),
        )


@cache
def _clients() -> tuple[Any, Any, Any]:
    return boto3.client("s3"), boto3.client("events"), boto3.client("sns")


@dataclass(frozen=True)
class Source:
    bucket: str
    key: str
    version_id: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    settings = Settings.from_environment()
    detail = event["detail"]
    key = detail["object"]["key"]
    if detail["bucket"]["name"] != settings.bucket or not key.startswith(settings.raw_prefix) or key.endswith("/"):
        logger.warning("ignored: not an object in the raw area", extra={"key": key})
        metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
        return {"outcome": "ignored", "key": key}
    key, head = _head(settings, key, detail["object"].get("version-id"))
    source = Source(settings.bucket, key, head.get("VersionId", "null"))
    logger.append_keys(source_uri=source.uri, source_version_id=source.version_id)

    sha256, rows, report = _check(_clients()[0], settings, source, size=head["ContentLength"])
    relative = key[len(settings.raw_prefix) :]
    if report.valid:
        result = _curate(settings, source, relative, sha256, rows)
    else:
        result = _quarantine(settings, source, relative, sha256, report, size=head["ContentLength"])
    metric = "DatasetsValidated" if report.valid else "DatasetsQuarantined"
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    logger.info(report.summary(), extra={"outcome": result["outcome"]})
    return result


def _head(settings: Settings, key: str, version_id: str | None) -> tuple[str, dict]:
    """HEAD exactly the version the event names (even if newer versions exist). Classic S3 notifications URL-encode
    keys ("a b.csv" -> "a+b.csv"); if the key as given is not found, its decoded form is tried. The version id is
    unique to the uploaded object, so the fallback cannot pick a different object."""
    s3 = _clients()[0]
    try:
        return key, s3.head_object(Bucket=settings.bucket, Key=key, **_version(version_id))
    except ClientError:
        decoded = unquote_plus(key)
        if decoded == key:
            raise
        return decoded, s3.head_object(Bucket=settings.bucket, Key=decoded, **_version(version_id))


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id and version_id != "null" else {}


def _check(s3: Any, settings: Settings, source: Source, size: int) -> tuple[str | None, int, ValidationReport]:
    """Validate the object's bytes with the shared schema; objects it must not read get a file-level problem."""
    if not source.key.lower().endswith(".csv"):
        problem = f"not a CSV object: only keys ending in .csv are accepted under {settings.raw_prefix}"
        return None, 0, ValidationReport(problems=[Problem(None, None, problem)])
    if size > settings.max_object_bytes:
        problem = f"object is {size} bytes, above the validation limit of {settings.max_object_bytes} bytes"
        return None, 0, ValidationReport(problems=[Problem(None, None, problem)])
    body = s3.get_object(Bucket=source.bucket, Key=source.key, **_version(source.version_id))["Body"].read()
    records, report = validate_csv_bytes(body)
    return hashlib.sha256(body).hexdigest(), len(records), report


def _curate(settings: Settings, source: Source, relative: str, sha256: str, rows: int) -> dict:
    key = settings.curated_prefix + relative
    detail = {
        "curated_uri": f"s3://{settings.bucket}/{key}",
        "sha256": sha256,
        "rows": rows,
        "source_uri": source.uri,
        "source_version_id": source.version_id,
    }
    done = _copy_once(settings, source, key, {"sha256": sha256, "rows": str(rows)}, content_type="text/csv")
    if done.notified:
        return {"outcome": "valid", "already_done": True, **detail, "curated_version_id": done.version_id}
    detail["curated_version_id"] = done.version_id
    events = _clients()[1]
    response = events.put_events(
        Entries=[
            {
                "Source": settings.event_source,
                "DetailType": settings.event_detail_type,
                "Detail": json.dumps(detail, sort_keys=True),
                "EventBusName": settings.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge rejected the {settings.event_detail_type} event: {response['Entries']}")
    _mark_notified(settings, key)
    return {"outcome": "valid", "already_done": False, **detail}


def _quarantine(
    settings: Settings, source: Source, relative: str, sha256: str | None, report: ValidationReport, size: int
) -> dict:
    data_key = settings.quarantine_prefix + relative
    report_key = data_key + ".report.json"
    copied = size <= COPY_OBJECT_LIMIT
    document = {
        "source_uri": source.uri,
        "source_version_id": source.version_id,
        "size_bytes": size,
        "sha256": sha256,
        "quarantined_copy_uri": f"s3://{settings.bucket}/{data_key}" if copied else None,
        "summary": report.summary(),
        **report.to_dict(),
    }
    result = {"outcome": "invalid", "report_uri": f"s3://{settings.bucket}/{report_key}", **document}
    done = _put_report_once(settings, source, report_key, document)
    if done.notified:
        return {**result, "already_done": True}
    if copied:
        _copy_once(settings, source, data_key, {"report-key": report_key}, content_type=None)
    sns = _clients()[2]
    problems = "\n".join(f"- {problem}" for problem in report.problems[:20])
    sns.publish(
        TopicArn=settings.alerts_topic_arn,
        Subject=f"Data quarantined: {relative}"[:100],
        Message=(
            f"{source.uri} (version {source.version_id}) failed validation: {report.summary()}\n"
            f"Report: {result['report_uri']}\nThe original object is unchanged.\n\nFirst problems:\n{problems}\n"
        ),
    )
    _mark_notified(settings, report_key)
    return {**result, "already_done": False}


@dataclass(frozen=True)
class _Existing:
    version_id: str | None
    notified: bool


def _find(settings: Settings, key: str, source: Source) -> _Existing | None:
    """The destination object if its current version came from this source version; else None."""
    s3 = _clients()[0]
    # Listing the exact key first: a missing key then reads as absent under a prefix-scoped s3:ListBucket grant.
    listed = s3.list_objects_v2(Bucket=settings.bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not listed or listed[0]["Key"] != key:
        return None
    head = s3.head_object(Bucket=settings.bucket, Key=key)
    if head.get("Metadata", {}).get("source-version-id") != source.version_id:
        return None
    tags = s3.get_object_tagging(Bucket=settings.bucket, Key=key)["TagSet"]
    return _Existing(head.get("VersionId"), NOTIFIED_TAG in tags)


def _source_metadata(source: Source) -> dict[str, str]:
    return {"source-uri": source.uri, "source-version-id": source.version_id}


def _copy_once(
    settings: Settings, source: Source, key: str, metadata: dict[str, str], content_type: str | None
) -> _Existing:
    existing = _find(settings, key, source)
    if existing:
        return existing
    extra = {"ContentType": content_type} if content_type else {}
    response = _clients()[0].copy_object(
        Bucket=settings.bucket,
        Key=key,
        CopySource={"Bucket": source.bucket, "Key": source.key, **_version(source.version_id)},
        MetadataDirective="REPLACE",
        Metadata={**_source_metadata(source), **metadata},
        **extra,
    )
    return _Existing(response.get("VersionId"), False)


def _put_report_once(settings: Settings, source: Source, key: str, document: dict) -> _Existing:
    existing = _find(settings, key, source)
    if existing:
        return existing
    response = _clients()[0].put_object(
        Bucket=settings.bucket,
        Key=key,
        Body=json.dumps(document, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
        Metadata=_source_metadata(source),
    )
    return _Existing(response.get("VersionId"), False)


def _mark_notified(settings: Settings, key: str) -> None:
    try:
        _clients()[0].put_object_tagging(Bucket=settings.bucket, Key=key, Tagging={"TagSet": [NOTIFIED_TAG]})
    except ClientError:
        # The notification went out; without the tag a retry would notify once more (at least once, never never).
        logger.exception("could not tag the destination as notified", extra={"key": key})
        raise
