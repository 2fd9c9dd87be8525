"""scripts/dependency_audit.py never reports "no known vulnerabilities" for packages it did not check.

A stand-in pip-audit replays what the real one (2.10.1) does, measured on a machine where its vulnerability service is
unreachable: without --strict it writes a JSON report whose every dependency has a skip_reason and exits 0; with
--strict it writes nothing and exits 1. Where the service answers, it reports vulnerabilities with ids and fixes.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import dependency_audit
import pytest

UNREACHABLE = {
    "dependencies": [
        {"name": "aws-cdk-lib", "skip_reason": "Dependency not found on PyPI and could not be audited: aws-cdk-lib"},
        {"name": "boto3", "skip_reason": "Dependency not found on PyPI and could not be audited: boto3 (1.44.5)"},
    ],
    "fixes": [],
}
VULNERABLE = {
    "dependencies": [
        {"name": "boto3", "version": "1.44.5", "vulns": []},
        {
            "name": "werkzeug",
            "version": "0.15.6",
            "vulns": [{"id": "PYSEC-2023-221", "fix_versions": ["2.3.8"], "aliases": ["CVE-2023-46136"]}],
        },
    ],
    "fixes": [],
}
CLEAN = {"dependencies": [{"name": "boto3", "version": "1.44.5", "vulns": []}], "fixes": []}

FAKE = """#!{python}
import json, sys
arguments = sys.argv[1:]
open({log!r}, "a").write(json.dumps(arguments) + chr(10))
report = json.loads({report!r})
strict = "--strict" in arguments
skipped = any("skip_reason" in d for d in report["dependencies"])
vulnerable = any(d.get("vulns") for d in report["dependencies"])
if strict and skipped:
    print("ERROR:pip_audit._cli:" + report["dependencies"][0]["skip_reason"], file=sys.stderr)
    sys.exit(1)
open(arguments[arguments.index("--output") + 1], "w").write(json.dumps(report))
sys.exit(1 if vulnerable else 0)
"""


def _pip_audit(tmp_path: Path, report: dict) -> str:
    fake = tmp_path / "pip-audit"
    log = tmp_path / "calls.jsonl"
    fake.write_text(FAKE.format(python=sys.executable, report=json.dumps(report), log=str(log)))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return str(fake)


def _run(tmp_path: Path, report: dict, capsys) -> tuple[int, str]:
    code = dependency_audit.main([_pip_audit(tmp_path, report), "--requirement", "requirements.txt"])
    return code, capsys.readouterr().out


def test_an_unreachable_service_fails_the_audit_and_says_nothing_was_checked(tmp_path, capsys):
    code, out = _run(tmp_path, UNREACHABLE, capsys)
    assert code == dependency_audit.EXIT_NOT_AUDITED
    assert "NOT AUDITED --requirement requirements.txt: 2 of 2 packages could not be audited" in out
    assert "vulnerability service is not reachable from here. Nothing was checked" in out
    assert "no known vulnerabilities" not in out.lower()


def test_known_vulnerabilities_fail_the_audit_with_ids_and_fixes(tmp_path, capsys):
    code, out = _run(tmp_path, VULNERABLE, capsys)
    assert code == dependency_audit.EXIT_VULNERABLE
    assert "VULNERABLE werkzeug 0.15.6: PYSEC-2023-221 (CVE-2023-46136), fixed in 2.3.8" in out
    assert "no known vulnerabilities" not in out.lower()


def test_only_a_complete_audit_reports_no_known_vulnerabilities(tmp_path, capsys):
    code, out = _run(tmp_path, CLEAN, capsys)
    assert code == 0
    assert "audited --requirement requirements.txt: 1 packages, no known vulnerabilities" in out


def test_every_run_is_strict_first_and_passes_every_exception(tmp_path, capsys):
    _run(tmp_path, UNREACHABLE, capsys)
    strict, diagnosis = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert "--strict" in strict and "--strict" not in diagnosis  # the JSON report only explains the failure
    for vuln in dependency_audit.exceptions():
        assert ["--ignore-vuln", vuln] in [strict[i : i + 2] for i in range(len(strict) - 1)]


def test_an_exception_needs_a_reason(tmp_path):
    bad = tmp_path / "exceptions.toml"
    bad.write_text('[[exception]]\nid = "CVE-2000-0001"\npackage = "x"\nreason = "n/a"\n')
    with pytest.raises(ValueError, match="specific reason"):
        dependency_audit.exceptions(bad)
