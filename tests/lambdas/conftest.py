"""Emulated AWS (moto) for the Lambda handlers: a versioned KMS-encrypted data bucket, the default event bus and the
alerts topic, each wired to an SQS queue so a test can read exactly what was published."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from config.names import DATASET_EVENT_DETAIL_TYPE, DATASET_EVENT_SOURCE

# Tracing off outside Lambda; metrics need a namespace. Set before any handler module is imported.
os.environ.update(
    {
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "titanic-sagemaker-test",
        "POWERTOOLS_SERVICE_NAME": "test",
    }
)

BUCKET = "titanic-test-data"
REGION = "eu-west-1"


@dataclass
class LambdaContext:
    function_name: str = "titanic-test-validate-data"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:titanic-test-validate-data"
    aws_request_id: str = "test-request"
    log_stream_name: str = "2026/11/22/[$LATEST]test"


@dataclass
class DataLakeFake:
    s3: Any
    sqs: Any
    events_queue: str
    alerts_queue: str
    topic_arn: str

    def put(self, key: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]

    def event(self, key: str, version_id: str) -> dict:
        """The EventBridge 'Object Created' event S3 sends for this object version."""
        size = self.s3.head_object(Bucket=BUCKET, Key=key, VersionId=version_id)["ContentLength"]
        return {
            "version": "0",
            "id": f"event-{version_id}",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": datetime(2026, 11, 22, tzinfo=UTC).isoformat(),
            "region": REGION,
            "resources": [f"arn:aws:s3:::{BUCKET}"],
            "detail": {
                "version": "0",
                "bucket": {"name": BUCKET},
                "object": {"key": key, "size": size, "version-id": version_id, "sequencer": "0"},
                "request-id": "r",
                "requester": "123456789012",
                "reason": "PutObject",
            },
        }

    def versions(self, key: str) -> list[dict]:
        listed = self.s3.list_object_versions(Bucket=BUCKET, Prefix=key)
        return [v for v in listed.get("Versions", []) if v["Key"] == key] + [
            m for m in listed.get("DeleteMarkers", []) if m["Key"] == key
        ]

    def body(self, key: str, version_id: str | None = None) -> bytes:
        extra = {"VersionId": version_id} if version_id else {}
        return self.s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read()

    def object_keys(self) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))

    def _drain(self, queue: str) -> list[dict]:
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    def published_events(self) -> list[dict]:
        return self._drain(self.events_queue)

    def alerts(self) -> list[dict]:
        return self._drain(self.alerts_queue)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def lake(monkeypatch) -> DataLakeFake:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
        s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]
            },
        )
        sqs = boto3.client("sqs", region_name=REGION)
        events_queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        alerts_queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]

        def arn(url: str) -> str:
            return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

        events = boto3.client("events", region_name=REGION)
        events.put_rule(Name="capture", EventPattern=json.dumps({"source": [DATASET_EVENT_SOURCE]}))
        events.put_targets(Rule="capture", Targets=[{"Id": "queue", "Arn": arn(events_queue)}])
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="titanic-test-alerts")["TopicArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn(alerts_queue),
            Attributes={"RawMessageDelivery": "false"},
        )
        for name, value in {
            "DATA_BUCKET": BUCKET,
            "RAW_PREFIX": "raw/",
            "CURATED_PREFIX": "curated/",
            "QUARANTINE_PREFIX": "quarantine/",
            "EVENT_SOURCE": DATASET_EVENT_SOURCE,
            "EVENT_DETAIL_TYPE": DATASET_EVENT_DETAIL_TYPE,
            "EVENT_BUS_NAME": "default",
            "ALERTS_TOPIC_ARN": topic_arn,
            "MAX_OBJECT_BYTES": str(25 * 1024 * 1024),
        }.items():
            monkeypatch.setenv(name, value)
        yield DataLakeFake(s3, sqs, events_queue, alerts_queue, topic_arn)
