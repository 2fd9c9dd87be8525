"""scripts/evidence_summary.py: the dev evidence reviewers of prod read, and the commit check before prod deploys."""

from __future__ import annotations

import json

from evidence_summary import main

PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/titanic-dev-models/7"
PIPELINE = {
    "environment": "dev",
    "pipeline": "titanic-dev-training",
    "pipeline_execution_arn": "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/titanic-dev-training/execution/x1",
    "status": "Succeeded",
    "failure_reason": "",
    "steps": [
        {"name": "TrainModel", "status": "Succeeded", "failure_reason": ""},
        {"name": "RegisterModel", "status": "Succeeded", "failure_reason": ""},
    ],
    "model_package_arn": PACKAGE,
}
SMOKE = {
    "environment": "dev",
    "latency_budget_ms": 2000,
    "endpoints": [
        {
            "name": "titanic-dev-staging",
            "status": "InService",
            "tested": True,
            "latency_ms": 85.2,
            "passed": False,
            "checks": [
                {"name": "status", "passed": True, "detail": "HTTP 200"},
                {"name": "passenger 2", "passed": False, "detail": "expected survived=1, got 0 (p=0.100)"},
            ],
        },
        {"name": "titanic-dev-prod", "status": "absent", "tested": False},
    ],
}


def test_the_summary_shows_the_run_its_steps_package_and_smoke_results(tmp_path, capsys):
    (tmp_path / "pipeline.json").write_text(json.dumps(PIPELINE))
    (tmp_path / "smoke.json").write_text(json.dumps(SMOKE))
    assert main([str(tmp_path), "--record-commit", "abc123"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Evidence from dev for commit `abc123`")
    assert f"- execution: `{PIPELINE['pipeline_execution_arn']}`" in out
    assert f"- model package: `{PACKAGE}`" in out
    assert "| RegisterModel | Succeeded |  |" in out
    assert "| `titanic-dev-staging` | InService | FAILED | 85.2 ms | passenger 2: expected survived=1, got 0" in out
    assert "| `titanic-dev-prod` | absent | not tested | | |" in out


def test_missing_evidence_is_shown_as_missing(tmp_path, capsys):
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "**Training pipeline**: no evidence" in out and "**Endpoint smoke tests**: no evidence" in out
    assert "commit `unknown`" in out


def test_prod_refuses_evidence_of_another_commit(tmp_path, capsys):
    main([str(tmp_path), "--record-commit", "abc123"])
    assert main([str(tmp_path), "--expect-commit", "abc123"]) == 0
    assert main([str(tmp_path), "--expect-commit", "def456"]) == 1
    assert "evidence is for commit abc123, not def456: refusing" in capsys.readouterr().err
