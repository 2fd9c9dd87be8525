"""Time and memory of one run of the drift-check Lambda on a realistic window (behind make bench-drift-check).

The window: the committed real-format capture fixtures (tests/ml/fixtures/capture/similar, 1-5 passengers per
request, JSON and BASE64-encoded CSV) repeated to RECORDS capture records, spread over the environment's
window_hours with one object per FILE_MINUTES of each hour, uploaded to an emulated S3 (moto) with an endpoint,
model, package and published baseline. The real handler (lambdas/drift_check/handler.py) then runs once, in a fresh
process per size: wall time of the invocation, then the peak of the Python heap during a second, identical one
(tracemalloc: what the check allocates, moto's response copies of the objects included), against the size of the
window's capture, and the whole process's peak resident memory (interpreter, boto3, moto and its stored objects).

moto answers in process: real S3 adds its per-request latency to every listed object (a few ms to tens of ms each),
which the "objects" column lets you add.

CLI:  python scripts/bench_drift_check.py [--env dev] [--records 1000,10000,30000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "lambdas" / "drift_check")]
FIXTURE = REPO / "tests" / "ml" / "fixtures" / "capture" / "similar"
FILE_MINUTES = 10  # SageMaker writes a capture object every few minutes per instance while traffic flows
END = datetime(2026, 11, 30, 13, 20, tzinfo=UTC)
REGION, BUCKET = "eu-west-1", "titanic-bench-artifacts"


def _fake_aws() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_SERVICE_NAME": "bench",
        }
    )


def _world(names, settings, records: int) -> tuple[int, int]:
    """The endpoint chain, its baseline and the window's capture in moto; (objects, bytes) of the capture."""
    import boto3

    from constructs.drift_monitor import check_environment
    from ml import baseline, dataset

    endpoint, group = names.endpoint("prod"), names.model_package_group
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    key = f"{names.pipeline_baselines_prefix}/bench/baseline.json"
    reference = baseline.build(dataset.read_records(REPO / "data" / "titanic.csv")[0][:623], [0.5], 0.5)
    s3.put_object(Bucket=BUCKET, Key=key, Body=baseline.dumps(reference).encode())
    sm.create_model_package_group(ModelPackageGroupName=group)
    statistics = {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{key}"}
    package = sm.create_model_package(
        ModelPackageGroupName=group,
        DriftCheckBaselines={"ModelDataQuality": {"Statistics": statistics}},
        InferenceSpecification={"Containers": [{"Image": "image"}], "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]},
    )["ModelPackageArn"]  # fmt: skip
    model, config = f"{names.prefix}-bench", f"{endpoint}-bench"
    sm.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                    PrimaryContainer={"ModelPackageName": package})  # fmt: skip
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    lines = [line for path in sorted(FIXTURE.rglob("*.jsonl")) for line in path.read_text().splitlines(True)]
    lines = (lines * (records // len(lines) + 1))[:records]
    hours, files_per_hour = settings.window_hours, 60 // FILE_MINUTES
    files = hours * files_per_hour
    start = END.replace(minute=0) - timedelta(hours=hours)
    total = 0
    for index in range(files):
        when = start + timedelta(minutes=FILE_MINUTES * index)
        body = "".join(lines[index * len(lines) // files : (index + 1) * len(lines) // files]).encode()
        name = f"{names.data_capture_prefix}/{endpoint}/AllTraffic/{when:%Y/%m/%d/%H}/{when:%M}-00-000-{index}.jsonl"
        s3.put_object(Bucket=BUCKET, Key=name, Body=body)
        total += len(body)
    os.environ.update(
        check_environment(names, settings, bucket=BUCKET, package_arn_prefix=package.rsplit("/", 1)[0] + "/")
    )
    return files, total


def measure(env: str, records: int) -> dict:
    """One size, in this process: set up, then one invocation of the handler."""
    _fake_aws()
    from moto import mock_aws

    from config import load_environment

    config = load_environment(env)
    with mock_aws():
        objects, size = _world(config.names, config.monitoring, records)
        import handler

        context = SimpleNamespace(function_name="bench", memory_limit_in_mb=config.monitoring.check_memory_mb,
                                  invoked_function_arn="arn", aws_request_id="bench")  # fmt: skip
        event = {"endpoints": {"prod": config.names.endpoint("prod")}, "window_end": END.isoformat()}
        started = time.perf_counter()
        result = handler.handler(event, context)["endpoints"]["prod"]
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second, identical run for the memory: tracing slows the first one's clock down
        handler.handler(event, context)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"records": result["records"], "captures": records, "objects": objects, "mb": size / 1024**2,
            "seconds": seconds, "heap_mb": peak / 1024**2, "resident_mb": resident}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--records", default="1000,10000,30000", help="capture records per window, comma-separated")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process measuring one size
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.env, args.one)))
        return 0
    print(f"drift-check Lambda handler, {args.env} window, moto S3/SageMaker/CloudWatch in process\n")
    print(" captures  passengers  objects  capture MB  seconds  heap peak MB  heap / capture  process peak RSS MB")
    for records in [int(value) for value in args.records.split(",")]:
        out = subprocess.run([sys.executable, __file__, "--env", args.env, "--one", str(records)], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        row = json.loads(out.strip().splitlines()[-1])
        print(f" {row['captures']:>8}  {row['records']:>10}  {row['objects']:>7}  {row['mb']:>10.1f}  "
              f"{row['seconds']:>7.2f}  {row['heap_mb']:>12.0f}  {row['heap_mb'] / row['mb']:>14.1f}  "
              f"{row['resident_mb']:>19.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
