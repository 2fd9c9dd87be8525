"""Phase 01: custom resource that copies the bundled Titanic CSV (a CDK file asset) into the raw area on deploy.

Create/Update copy the asset object to the destination key; the new raw object then flows through validation like any
upload. Delete does nothing: data is never removed by a stack operation (the bucket's removal policy decides).
The handler always answers CloudFormation (success or failure), so a stack never waits an hour for a lost reply.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> None:
    properties = event["ResourceProperties"]
    physical_id = f"s3://{properties['DestinationBucket']}/{properties['DestinationKey']}"
    status, reason, data = "SUCCESS", "", {}
    try:
        if event["RequestType"] in ("Create", "Update"):
            response = boto3.client("s3").copy_object(
                Bucket=properties["DestinationBucket"],
                Key=properties["DestinationKey"],
                CopySource={"Bucket": properties["SourceBucket"], "Key": properties["SourceKey"]},
                ContentType="text/csv",
                MetadataDirective="REPLACE",
                Metadata={"seeded-from": f"s3://{properties['SourceBucket']}/{properties['SourceKey']}"},
            )
            data = {"VersionId": response.get("VersionId", "null")}
            logger.info("seed data copied", extra={"destination": physical_id, **data})
        else:
            logger.info("delete: the seed object is kept", extra={"destination": physical_id})
    except Exception as error:  # any failure must still reach CloudFormation
        logger.exception("seed data copy failed")
        status, reason = "FAILED", f"{type(error).__name__}: {error}"[:1000]
    respond(event, context, status, reason, physical_id, data)


def respond(event: dict, context: Any, status: str, reason: str, physical_id: str, data: dict) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason or f"see CloudWatch log stream {context.log_stream_name}",
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (the pre-signed https URL CloudFormation gave us)
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        logger.info("answered CloudFormation", extra={"status": status, "http_status": response.status})
