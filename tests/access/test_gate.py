"""The gate: no request the system makes is denied, in any environment (make test fails listing what is).

Nothing is excused: a denial is a bug of this change or of the model (test_controls.py proves the evaluator does
deny, so an empty result is not an evaluator that allows everything).
"""

from __future__ import annotations

from access_report import clean, short

from tests.access.conftest import request

ARTIFACTS = "arn:aws:s3:::titanic-prod-foundation-artifactsbucket88671897"


def test_no_request_is_denied_in_any_environment(evaluated):
    denied = {
        (env.name, short(r.request.principal), r.request.action, clean(r.request.resource)): r.origins
        for env, results in evaluated
        for r in results
        if r.denied
    }
    assert not denied, "denied (run make access-check for the details): " + "; ".join(
        f"{' '.join(key)} <- {origins[0]}" for key, origins in sorted(denied.items())
    )


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
