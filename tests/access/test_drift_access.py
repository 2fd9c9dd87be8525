"""The drift check's role reads only the capture and the published baselines and writes only its reports: each
allowed request is paired with the neighbouring one it must not make (training splits hold the same passengers)."""

from __future__ import annotations

from tests.access.conftest import request

ACCOUNT = "123456789012"
ARTIFACTS = "arn:aws:s3:::titanic-prod-foundation-artifactsbucket88671897"
PIPELINE = f"{ARTIFACTS}/pipelines/titanic-prod-training"


def _role(prod) -> str:
    (role,) = [arn for arn in prod.policies.roles if "DriftMonitorCheckRole" in arn]
    return role


def test_the_check_reads_capture_and_baselines_but_not_the_pipelines_data_or_model(prod):
    role = _role(prod)
    verdicts = [
        result.verdict
        for result in prod.judge(
            [
                request(role, "s3:GetObject", f"{ARTIFACTS}/data-capture/prod/titanic-prod-prod/AllTraffic/x.jsonl"),
                request(role, "s3:GetObject", f"{PIPELINE}/baselines/exec-1/baseline.json"),
                request(role, "s3:GetObject", f"{PIPELINE}/exec-1/splits/train/train.csv"),
                request(role, "s3:GetObject", f"{PIPELINE}/exec-1/model/output/model.tar.gz"),
                request(role, "s3:GetObject", f"{ARTIFACTS}/data-capture/dev/titanic-dev-prod/AllTraffic/x.jsonl"),
            ]
        )
    ]
    assert verdicts == ["Allowed", "Allowed", "ImplicitlyDenied", "ImplicitlyDenied", "ImplicitlyDenied"]


def test_the_check_writes_only_its_reports_and_publishes_only_its_namespace(prod):
    role = _role(prod)
    verdicts = [
        result.verdict
        for result in prod.judge(
            [
                request(role, "s3:PutObject", f"{ARTIFACTS}/drift-reports/prod/titanic-prod-prod/r.json"),
                request(role, "s3:PutObject", f"{ARTIFACTS}/data-capture/prod/titanic-prod-prod/x.jsonl"),
                request(role, "s3:PutObject", f"{PIPELINE}/baselines/exec-1/baseline.json"),
                request(role, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "titanic-sagemaker/Drift"}),
                request(role, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "AWS/SageMaker"}),
            ]
        )
    ]
    assert verdicts == ["Allowed", "ImplicitlyDenied", "ImplicitlyDenied", "Allowed", "ImplicitlyDenied"]


def test_the_check_follows_only_this_environments_endpoints_and_packages(prod):
    role, sagemaker = _role(prod), f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}"
    verdicts = [
        result.verdict
        for result in prod.judge(
            [
                request(role, "sagemaker:DescribeEndpoint", f"{sagemaker}:endpoint/titanic-prod-prod"),
                request(role, "sagemaker:DescribeEndpoint", f"{sagemaker}:endpoint/titanic-dev-prod"),
                request(role, "sagemaker:DescribeModelPackage", f"{sagemaker}:model-package/titanic-prod-models/3"),
                request(role, "sagemaker:DescribeModelPackage", f"{sagemaker}:model-package/someone-elses/3"),
                request(role, "sagemaker:InvokeEndpoint", f"{sagemaker}:endpoint/titanic-prod-prod"),
            ]
        )
    ]
    assert verdicts == ["Allowed", "ImplicitlyDenied", "Allowed", "ImplicitlyDenied", "ImplicitlyDenied"]
