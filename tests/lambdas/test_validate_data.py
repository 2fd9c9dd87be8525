"""The validation Lambda's real handler against emulated S3, EventBridge and SNS (moto).

Covers the seed data, every broken variant of the issue, retries of the same object version, partial failures,
oversized and non-CSV objects, and that the raw object is never changed, tagged or deleted.
"""

from __future__ import annotations

import json

import pytest

from config.names import DATASET_EVENT_DETAIL_TYPE, DATASET_EVENT_SOURCE
from lambdas.validate_data import handler as validate
from tests.broken_data import BROKEN_VARIANTS, SEED_BYTES, SEED_ROWS
from tests.lambdas.conftest import BUCKET, LambdaContext, sha256


@pytest.fixture(autouse=True)
def fresh_clients():
    validate._clients.cache_clear()
    yield
    validate._clients.cache_clear()


def invoke(event: dict) -> dict:
    return validate.handler(event, LambdaContext())


def raw_snapshot(lake, key: str) -> list[tuple[str, bytes, list]]:
    """Every version of a raw key with its bytes and tags: must be identical before and after the handler runs."""
    return [
        (
            version["VersionId"],
            lake.body(key, version["VersionId"]),
            lake.s3.get_object_tagging(Bucket=BUCKET, Key=key, VersionId=version["VersionId"])["TagSet"],
        )
        for version in lake.versions(key)
    ]


def test_valid_data_is_curated_and_announced(lake):
    version = lake.put("raw/titanic.csv", SEED_BYTES)
    before = raw_snapshot(lake, "raw/titanic.csv")

    result = invoke(lake.event("raw/titanic.csv", version))

    assert result["outcome"] == "valid"
    assert lake.body("curated/titanic.csv") == SEED_BYTES
    head = lake.s3.head_object(Bucket=BUCKET, Key="curated/titanic.csv")
    assert head["Metadata"]["source-version-id"] == version
    assert head["Metadata"]["sha256"] == sha256(SEED_BYTES)
    assert head["ServerSideEncryption"] == "aws:kms"
    [event] = lake.published_events()
    assert event["source"] == DATASET_EVENT_SOURCE
    assert event["detail-type"] == DATASET_EVENT_DETAIL_TYPE
    assert event["detail"] == {
        "curated_uri": f"s3://{BUCKET}/curated/titanic.csv",
        "curated_version_id": head["VersionId"],
        "sha256": sha256(SEED_BYTES),
        "rows": SEED_ROWS,
        "source_uri": f"s3://{BUCKET}/raw/titanic.csv",
        "source_version_id": version,
    }
    assert lake.alerts() == []
    assert not [key for key in lake.object_keys() if key.startswith("quarantine/")]
    assert raw_snapshot(lake, "raw/titanic.csv") == before


@pytest.mark.parametrize("variant", sorted(BROKEN_VARIANTS))
def test_broken_data_is_quarantined_with_a_report_and_an_alert(lake, variant):
    data, expected = BROKEN_VARIANTS[variant]
    key = f"raw/batches/{variant}.csv"
    version = lake.put(key, data)
    before = raw_snapshot(lake, key)

    result = invoke(lake.event(key, version))

    assert result["outcome"] == "invalid"
    assert lake.body(f"quarantine/batches/{variant}.csv") == data
    report = json.loads(lake.body(f"quarantine/batches/{variant}.csv.report.json"))
    assert report["valid"] is False
    assert report["source_uri"] == f"s3://{BUCKET}/{key}"
    assert report["source_version_id"] == version
    assert report["problem_count"] == len(report["problems"]) > 0
    assert sum(report["problems_by_column"].values()) == report["problem_count"]
    assert any(
        (problem["row"], problem["column"]) == (expected.row, expected.column) and expected.reason in problem["reason"]
        for problem in report["problems"]
    ), report["problems"]
    [alert] = lake.alerts()
    assert alert["TopicArn"] == lake.topic_arn
    assert f"{variant}.csv" in alert["Subject"]
    assert f"s3://{BUCKET}/quarantine/batches/{variant}.csv.report.json" in alert["Message"]
    assert lake.published_events() == []
    assert not [k for k in lake.object_keys() if k.startswith("curated/")]
    assert raw_snapshot(lake, key) == before


@pytest.mark.parametrize("data", [SEED_BYTES, BROKEN_VARIANTS["survived_out_of_range"][0]], ids=["valid", "invalid"])
def test_a_retried_version_gives_the_same_outcome_without_duplicates(lake, data):
    version = lake.put("raw/titanic.csv", data)
    event = lake.event("raw/titanic.csv", version)
    before = raw_snapshot(lake, "raw/titanic.csv")

    first = invoke(event)
    second = invoke(event)
    third = invoke(event)

    assert first.pop("already_done") is False
    assert second.pop("already_done") is True
    assert third.pop("already_done") is True
    assert first == second == third
    outputs = [key for key in lake.object_keys() if not key.startswith("raw/")]
    assert all(len(lake.versions(key)) == 1 for key in outputs), {key: lake.versions(key) for key in outputs}
    notifications = lake.published_events() + lake.alerts()
    assert len(notifications) == 1
    assert raw_snapshot(lake, "raw/titanic.csv") == before


def test_a_retry_after_a_failed_publish_publishes_once_and_copies_once(lake, monkeypatch):
    version = lake.put("raw/titanic.csv", SEED_BYTES)
    event = lake.event("raw/titanic.csv", version)
    s3, events, sns = validate._clients()

    class Unavailable:
        def put_events(self, **_):
            raise ConnectionError("EventBridge unavailable")

    monkeypatch.setattr(validate, "_clients", lambda: (s3, Unavailable(), sns))
    with pytest.raises(ConnectionError):
        invoke(event)
    assert len(lake.versions("curated/titanic.csv")) == 1
    assert lake.published_events() == []

    monkeypatch.setattr(validate, "_clients", lambda: (s3, events, sns))
    assert invoke(event)["already_done"] is False
    assert invoke(event)["already_done"] is True
    assert len(lake.versions("curated/titanic.csv")) == 1
    assert len(lake.published_events()) == 1


def test_a_new_version_of_the_same_key_is_validated_on_its_own(lake):
    first = lake.put("raw/titanic.csv", SEED_BYTES)
    invoke(lake.event("raw/titanic.csv", first))
    broken = BROKEN_VARIANTS["pclass_out_of_range"][0]
    second = lake.put("raw/titanic.csv", broken)

    result = invoke(lake.event("raw/titanic.csv", second))

    assert result["outcome"] == "invalid"
    assert lake.body("curated/titanic.csv") == SEED_BYTES  # the last valid data stays curated
    assert lake.body("quarantine/titanic.csv") == broken
    assert [v["VersionId"] for v in lake.versions("raw/titanic.csv")] == [second, first]
    # A retry of the first (older) version still finds its work done: no new curated version.
    assert invoke(lake.event("raw/titanic.csv", first))["already_done"] is True
    assert len(lake.versions("curated/titanic.csv")) == 1


def test_an_oversized_object_is_quarantined_with_a_clear_report_without_being_read(lake, monkeypatch):
    monkeypatch.setenv("MAX_OBJECT_BYTES", "1000")
    version = lake.put("raw/big.csv", SEED_BYTES)
    s3 = validate._clients()[0]
    monkeypatch.setattr(s3, "get_object", lambda **_: pytest.fail("an oversized object must not be read"))

    result = invoke(lake.event("raw/big.csv", version))

    assert result["outcome"] == "invalid"
    report = json.loads(lake.body("quarantine/big.csv.report.json"))
    assert report["problems"] == [
        {
            "row": None,
            "column": None,
            "reason": f"object is {len(SEED_BYTES)} bytes, above the validation limit of 1000 bytes",
        }
    ]
    assert report["sha256"] is None
    assert lake.body("quarantine/big.csv") == SEED_BYTES
    assert len(lake.alerts()) == 1
    assert lake.body("raw/big.csv", version) == SEED_BYTES


def test_a_non_csv_object_is_quarantined_with_a_clear_report(lake):
    parquet = b"PAR1\x15\x04\x15\x10\x00\x00" * 50
    version = lake.put("raw/passengers.parquet", parquet)

    result = invoke(lake.event("raw/passengers.parquet", version))

    assert result["outcome"] == "invalid"
    report = json.loads(lake.body("quarantine/passengers.parquet.report.json"))
    assert "not a CSV object" in report["problems"][0]["reason"]
    assert lake.body("quarantine/passengers.parquet") == parquet
    assert lake.body("raw/passengers.parquet", version) == parquet


@pytest.mark.parametrize("key", ["curated/titanic.csv", "raw/folder/"])
def test_objects_outside_the_raw_area_or_folder_markers_are_ignored(lake, key):
    version = lake.put(key, SEED_BYTES)
    keys_before = lake.object_keys()

    assert invoke(lake.event(key, version))["outcome"] == "ignored"
    assert lake.object_keys() == keys_before
    assert lake.published_events() == [] and lake.alerts() == []


def test_an_event_for_another_bucket_is_ignored(lake):
    version = lake.put("raw/titanic.csv", SEED_BYTES)
    event = lake.event("raw/titanic.csv", version)
    event["detail"]["bucket"]["name"] = "someone-elses-bucket"

    assert invoke(event)["outcome"] == "ignored"
    assert lake.object_keys() == ["raw/titanic.csv"]


def test_a_url_encoded_key_in_the_event_finds_the_uploaded_object(lake):
    version = lake.put("raw/batch 2026 (1).csv", SEED_BYTES)
    event = lake.event("raw/batch 2026 (1).csv", version)
    event["detail"]["object"]["key"] = "raw/batch+2026+%281%29.csv"

    result = invoke(event)

    assert result["outcome"] == "valid"
    assert result["source_uri"] == f"s3://{BUCKET}/raw/batch 2026 (1).csv"
    assert lake.body("curated/batch 2026 (1).csv") == SEED_BYTES
