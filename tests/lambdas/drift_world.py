"""The AWS world of the drift-check Lambda, in moto: the artifacts bucket (KMS), an endpoint released the way the
promotion workflow releases it (endpoint -> config -> model -> package with DriftCheckBaselines), its published
baseline, and capture objects written with ml/capture.py's writer.

The "model" answering the captured requests is a fixed rule (women and upper classes survive), so the baseline's
prediction histogram and the live answers come from the same function without training anything.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from config import load_environment
from constructs.drift_monitor import check_environment
from ml import baseline, capture, contracts, dataset, payload, preprocess, schema

ROOT = Path(__file__).resolve().parents[2]
HANDLER_FOLDER = ROOT / "lambdas" / "drift_check"
REGION, ACCOUNT = "eu-west-1", "123456789012"
CONFIG = load_environment("dev")
NAMES = CONFIG.names
BUCKET = "titanic-dev-artifacts"
PROD, STAGING = NAMES.endpoint("prod"), NAMES.endpoint("staging")
VARIANT = capture.DEFAULT_VARIANT
PACKAGES = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{NAMES.model_package_group}/"
JSON, CSV = contracts.JSON_CONTENT_TYPE, contracts.CSV_CONTENT_TYPE
WITH_CSV_TYPES = {"json": [JSON], "csv": [CSV]}  # an endpoint config listing CsvContentTypes too


def environment() -> dict[str, str]:
    """The function's environment, as the construct sets it, for this moto world."""
    return check_environment(NAMES, CONFIG.monitoring, bucket=BUCKET, package_arn_prefix=PACKAGES)


def probability(passenger: dict[str, Any]) -> float:
    by_class = {1: 0.25, 2: 0.1, 3: -0.1}
    sex = passenger.get("Sex")
    base = 0.7 if sex == "female" else 0.2
    return round(min(0.99, max(0.01, base + by_class.get(int(passenger.get("Pclass") or 3), 0.0))), 6)


def split(name: str) -> list[dict[str, Any]]:
    records, _ = dataset.read_records(ROOT / "data" / "titanic.csv")
    chosen = preprocess.stratified_split(records, 0.70, 0.15, 42)[name]
    return [{column: record[column] for column in schema.INFERENCE_COLUMN_NAMES} for record in chosen]


def shifted(people: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """First-class passengers only, fares tripled, four ages in five missing."""
    first = [p for p in people if p["Pclass"] == 1]
    return [{**p, "Fare": p["Fare"] * 3, "Age": p["Age"] if i % 5 == 0 else None} for i, p in enumerate(first)]


def baseline_document() -> dict[str, Any]:
    train = split("train")
    return baseline.build(train, [probability(p) for p in split("validation")], 0.5, "train")


def _body(chunk: Sequence[dict[str, Any]], content_type: str) -> bytes:
    if content_type == JSON:
        return json.dumps({"instances": list(chunk)}).encode()
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(
        [dataset.format_value(p[column]) for column in schema.INFERENCE_COLUMN_NAMES] for p in chunk
    )
    return buffer.getvalue().encode()


def _answer(request: bytes, content_type: str) -> tuple[bytes, str]:
    instances = payload.request_instances(request, content_type)
    predictions = [{"survived": int(probability(p) >= 0.5), "probability": probability(p)} for p in instances]
    return json.dumps({"predictions": predictions}).encode(), JSON


class World:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
        self.s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]
            },
        )
        self.sm.create_model_package_group(ModelPackageGroupName=NAMES.model_package_group)
        self._files = 0

    # --- the model registry and the endpoints (as the pipeline and the promotion workflow leave them)
    def register(self, execution: str = "exec-1", with_baseline: bool = True, document: dict | None = None) -> str:
        key = f"{NAMES.pipeline_baselines_prefix}/{execution}/{contracts.BASELINE_FILE}"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=baseline.dumps(document or baseline_document()).encode())
        statistics = {"ContentType": JSON, "S3Uri": f"s3://{BUCKET}/{key}"}
        extra = {"DriftCheckBaselines": {"ModelDataQuality": {"Statistics": statistics}}} if with_baseline else {}
        return self.sm.create_model_package(
            ModelPackageGroupName=NAMES.model_package_group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"}],
                "SupportedContentTypes": [JSON, CSV],
                "SupportedResponseMIMETypes": [JSON],
            },
            **extra,
        )["ModelPackageArn"]

    def release(self, endpoint: str, package_arn: str, release_id: str = "r1") -> None:
        model = f"{NAMES.prefix}-{release_id}-{endpoint.rsplit('-', 1)[-1]}"
        role = f"arn:aws:iam::{ACCOUNT}:role/{NAMES.endpoint_role}"
        self.sm.create_model(ModelName=model, ExecutionRoleArn=role, PrimaryContainer={"ModelPackageName": package_arn})
        config = f"{endpoint}-{release_id}"
        variant = {
            "VariantName": VARIANT,
            "ModelName": model,
            "InstanceType": "ml.t2.medium",
            "InitialInstanceCount": 1,
        }
        self.sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant])
        self.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)

    # --- captured traffic
    def capture(
        self,
        endpoint: str,
        people: Sequence[dict[str, Any]],
        start: datetime,
        plan: Sequence[tuple[int, str]] = ((1, JSON), (3, CSV), (1, JSON), (2, JSON)),
        content_types: dict | None = None,
    ) -> int:
        """Invocations of `people` (request sizes and types cycling through `plan`), one minute apart from
        `start`, as data-capture objects (one per hour); returns how many requests were captured."""
        lines: dict[str, list[str]] = {}
        position, step = 0, 0
        while position < len(people):
            size, content_type = plan[step % len(plan)]
            when = start + timedelta(minutes=step)
            request = _body(people[position : position + size], content_type)
            record = capture.make_record(
                (request, content_type), _answer(request, content_type), f"event-{step}", when, content_types
            )
            lines.setdefault(capture.hour_folder(endpoint, VARIANT, when), []).append(capture.dumps(record))
            position, step = position + size, step + 1
        for folder, text in lines.items():
            self.put_capture_file(folder, "".join(text))
        return step

    def put_capture_file(self, folder: str, text: str | bytes) -> str:
        self._files += 1
        key = f"{NAMES.data_capture_prefix}/{folder}/00-00-{self._files:03d}-file{capture.FILE_SUFFIX}"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode() if isinstance(text, str) else text)
        return key

    # --- what the check leaves behind
    def report(self, endpoint: str, end: datetime) -> dict[str, Any]:
        key = f"{NAMES.drift_reports_prefix}/{capture.hour_folder(endpoint, VARIANT, end)}/drift-report.json"
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def report_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{NAMES.drift_reports_prefix}/")
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def metric_names(self, endpoint: str) -> set[str]:
        metrics = self.cloudwatch.list_metrics(Namespace=environment()["DRIFT_METRICS_NAMESPACE"])["Metrics"]
        return {
            m["MetricName"]
            for m in metrics
            if {"Name": "EndpointName", "Value": endpoint} in m["Dimensions"]
            and {"Name": "VariantName", "Value": VARIANT} in m["Dimensions"]
        }

    def metric(self, endpoint: str, name: str, end: datetime, **dimensions: str) -> float | None:
        all_dimensions = {"EndpointName": endpoint, "VariantName": VARIANT, **dimensions}
        points = self.cloudwatch.get_metric_statistics(
            Namespace=environment()["DRIFT_METRICS_NAMESPACE"],
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in all_dimensions.items()],
            StartTime=end - timedelta(minutes=30),
            EndTime=end + timedelta(minutes=30),
            Period=3600,
            Statistics=["Maximum"],
        )["Datapoints"]
        return points[0]["Maximum"] if points else None
