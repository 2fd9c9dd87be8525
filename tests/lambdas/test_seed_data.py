"""The seed custom resource's real handler against emulated S3: it copies on Create/Update, keeps data on Delete and
always answers CloudFormation, with FAILED and a reason when the copy fails."""

from __future__ import annotations

import json

import boto3
import pytest

from lambdas.seed_data import handler as seed
from tests.broken_data import SEED_BYTES
from tests.lambdas.conftest import BUCKET, REGION, LambdaContext

ASSETS = "cdk-hnb659fds-assets-123456789012-eu-west-1"
ASSET_KEY = "5932c0ed.csv"


@pytest.fixture
def answers(lake, monkeypatch) -> list[dict]:
    """Replies sent to CloudFormation's pre-signed URL, captured instead of sent."""
    lake.s3.create_bucket(Bucket=ASSETS, CreateBucketConfiguration={"LocationConstraint": REGION})
    lake.s3.put_object(Bucket=ASSETS, Key=ASSET_KEY, Body=SEED_BYTES)
    sent: list[dict] = []

    class Response:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

    def urlopen(request, timeout):
        assert request.full_url == "https://cloudformation-custom-resource-response.example/reply"
        assert request.get_method() == "PUT"
        sent.append(json.loads(request.data))
        return Response()

    monkeypatch.setattr(seed.urllib.request, "urlopen", urlopen)
    return sent


def request(kind: str, source_key: str = ASSET_KEY) -> dict:
    return {
        "RequestType": kind,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/reply",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/titanic-test-data/1",
        "RequestId": "req-1",
        "LogicalResourceId": "Seed",
        "ResourceType": "Custom::SeedData",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:titanic-test-seed-data",
            "SourceBucket": ASSETS,
            "SourceKey": source_key,
            "DestinationBucket": BUCKET,
            "DestinationKey": "raw/titanic.csv",
        },
    }


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_create_and_update_copy_the_seed_into_the_raw_area(lake, answers, kind):
    seed.handler(request(kind), LambdaContext())

    assert lake.body("raw/titanic.csv") == SEED_BYTES
    [answer] = answers
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == f"s3://{BUCKET}/raw/titanic.csv"
    assert answer["Data"]["VersionId"] == lake.versions("raw/titanic.csv")[0]["VersionId"]
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        request(kind)["StackId"],
        "req-1",
        "Seed",
    )


def test_delete_keeps_the_data(lake, answers):
    seed.handler(request("Create"), LambdaContext())
    seed.handler(request("Delete"), LambdaContext())

    assert lake.body("raw/titanic.csv") == SEED_BYTES
    assert len(lake.versions("raw/titanic.csv")) == 1
    assert [answer["Status"] for answer in answers] == ["SUCCESS", "SUCCESS"]


def test_a_failed_copy_still_answers_cloudformation_with_the_reason(lake, answers):
    seed.handler(request("Create", source_key="missing.csv"), LambdaContext())

    [answer] = answers
    assert answer["Status"] == "FAILED"
    assert "NoSuchKey" in answer["Reason"]
    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_a_new_environment_gets_curated_training_data_from_the_seed(lake, answers):
    from lambdas.validate_data import handler as validate

    seed.handler(request("Create"), LambdaContext())
    validate._clients.cache_clear()
    result = validate.handler(lake.event("raw/titanic.csv", answers[0]["Data"]["VersionId"]), LambdaContext())

    assert result["outcome"] == "valid"
    assert result["curated_uri"] == f"s3://{BUCKET}/curated/titanic.csv"
    assert lake.body("curated/titanic.csv") == SEED_BYTES
