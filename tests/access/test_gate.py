"""The gate: no request the system makes is denied, in any environment (make test fails listing what is).

A denial another change owns is listed in PENDING, exactly (environment, principal, action, resource), with its
owner; the gate compares sets, so a new denial fails it and so does a pending one that is fixed (remove its entry):
the list cannot hide anything nor outlive its reason. The controls (test_controls.py) prove the evaluator does deny.
"""

from __future__ import annotations

from access_report import clean, short

from tests.access.conftest import request

ARTIFACTS = "arn:aws:s3:::titanic-prod-foundation-artifactsbucket88671897"
PENDING = {
    (
        "prod",
        "titanic-prod-sagemaker-execution",
        "s3:PutObject",
        f"{ARTIFACTS}/mlflow/1/sample-run/artifacts/sample.json",
    ): "prod training's MLflow artifact upload: owned by the MLflow rework (an MLflow app per environment and the "
    "training job's MLflow permissions, stacks/training_access.py), issue 16 item 3",
}


def test_no_request_is_denied_in_any_environment(evaluated):
    denied = {
        (env.name, short(r.request.principal), r.request.action, clean(r.request.resource)): r.origins
        for env, results in evaluated
        for r in results
        if r.denied
    }
    unexpected = {key: origins for key, origins in denied.items() if key not in PENDING}
    assert not unexpected, "denied (run make access-check for the details): " + "; ".join(
        f"{' '.join(key)} <- {origins[0]}" for key, origins in sorted(unexpected.items())
    )
    assert set(denied) == set(PENDING), f"fixed, remove from PENDING: {sorted(set(PENDING) - set(denied))}"


def test_the_endpoint_role_reads_model_archives_but_not_mlflow_runs_or_captured_traffic(prod):
    role = "arn:aws:iam::123456789012:role/titanic-prod-endpoint"
    model = f"{ARTIFACTS}/pipelines/titanic-prod-training/run/model/job/output/model.tar.gz"
    results = prod.judge(
        [
            request(role, "s3:GetObject", model),
            request(role, "s3:GetObject", f"{ARTIFACTS}/pipelines/titanic-prod-training/run/serving-code/x.tar.gz"),
            request(role, "s3:GetObject", f"{ARTIFACTS}/mlflow/1/run/artifacts/model.pkl"),
            request(role, "s3:GetObject", f"{ARTIFACTS}/data-capture/prod/AllTraffic/2026/12/01/capture.jsonl"),
            request(role, "s3:GetObject", f"{ARTIFACTS}/pipelines/titanic-prod-training/run/splits/train/train.csv"),
        ]
    )
    assert [r.verdict for r in results] == [
        "Allowed",
        "Allowed",
        "ImplicitlyDenied",
        "ImplicitlyDenied",
        "ImplicitlyDenied",
    ]
