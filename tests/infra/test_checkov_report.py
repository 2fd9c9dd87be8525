"""The checkov skip report (docs/checkov-report.md) is fresh, and the scan's verdict logic (scripts/checkov_scan.py):
failed checks and skips checkov did not apply fail it; a skip needs an id and a specific reason on its resource."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from checkov_scan import MIN_COMMENT, declared_skips, judge, render

from constructs.compliance import MIN_REASON_LENGTH

REASON = "the access-log bucket is the destination of every other bucket's logs"


def test_checkov_report_is_up_to_date(synthesis):
    committed = Path("docs/checkov-report.md").read_text()
    assert committed == render(synthesis.outdir), "run `make checkov` and commit docs/checkov-report.md"


def test_the_scan_asks_skips_for_reasons_as_long_as_the_helper_writes():
    assert MIN_COMMENT == MIN_REASON_LENGTH


def _assembly(tmp_path: Path, skip: list[dict]) -> Path:
    bucket = {
        "Type": "AWS::S3::Bucket",
        "Metadata": {"aws:cdk:path": "titanic-dev-foundation/AccessLogs/Bucket/Resource", "checkov": {"skip": skip}},
    }
    template = {"Resources": {"AccessLogsBucket": bucket, "Other": {"Type": "AWS::SNS::Topic"}}}
    (tmp_path / "titanic-dev-foundation.template.json").write_text(json.dumps(template))
    (tmp_path / "titanic-dev-data.template.json").write_text(json.dumps({"Resources": {}}))
    return tmp_path


def test_a_skip_is_reported_on_its_resource_with_its_reason(tmp_path):
    outdir = _assembly(tmp_path, [{"id": "CKV_AWS_18", "comment": REASON}])
    report = render(outdir)
    assert f"| `titanic-dev-foundation/AccessLogs/Bucket/Resource` | `AWS::S3::Bucket` | `CKV_AWS_18` | {REASON} |" in (
        report
    )
    assert "## titanic-dev-data\n\nNo skips." in report
    assert "Total: 1 skip(s) across 2 templates." in report


@pytest.mark.parametrize(
    ("entry", "error"),
    [({"id": "CKV_AWS_18", "comment": "false positive"}, "needs a specific reason"), ({"comment": REASON}, "id")],
)
def test_a_skip_without_an_id_or_a_real_reason_is_refused(tmp_path, entry, error):
    with pytest.raises(ValueError, match=error):
        declared_skips(_assembly(tmp_path, [entry]))


def _check(check_id: str, resource: str) -> dict:
    # The fields checkov 3.3.30's JSON report gives every check result.
    return {
        "check_id": check_id,
        "check_name": "Ensure the S3 bucket has access logging enabled",
        "file_path": "/titanic-dev-foundation.template.json",
        "resource": resource,
    }


def test_failed_checks_and_unapplied_skips_fail_the_scan_and_applied_skips_do_not(tmp_path):
    skips = declared_skips(
        _assembly(tmp_path, [{"id": "CKV_AWS_18", "comment": REASON}, {"id": "CKV_AWS_999", "comment": REASON}])
    )
    report = {
        "results": {
            "failed_checks": [_check("CKV_SNS_1", "AWS::SNS::Topic.Other")],
            "skipped_checks": [_check("CKV_AWS_18", "AWS::S3::Bucket.AccessLogsBucket")],
            "parsing_errors": [],
        }
    }
    problems = judge(report, skips)
    assert problems[0].startswith("FAILED CKV_SNS_1 titanic-dev-foundation.template.json AWS::SNS::Topic.Other")
    assert len(problems) == 2 and problems[1].startswith("UNUSED SKIP CKV_AWS_999 on titanic-dev-foundation")
    report["results"]["failed_checks"] = []
    assert judge(report, skips[:1]) == []
