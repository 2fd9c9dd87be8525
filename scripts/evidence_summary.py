"""A deployment's evidence as Markdown, for the job summaries of the dev job, the prod approval and pipeline runs.

    python scripts/evidence_summary.py DIR [--record-commit SHA] [--expect-commit SHA]

DIR holds what the dev job wrote: pipeline.json (make pipeline-start EVIDENCE=...), smoke.json (make smoke
EVIDENCE=...) and commit (the commit dev deployed). --record-commit writes that commit; --expect-commit fails (exit 1)
unless the evidence is from that commit, so prod deploys only what dev ran. A missing file is shown as missing, never
as a pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _read(directory: Path, name: str) -> dict | None:
    path = directory / name
    return json.loads(path.read_text()) if path.is_file() else None


def pipeline_section(record: dict | None) -> list[str]:
    if record is None:
        return ["**Training pipeline**: no evidence (the run did not start or its step failed before writing it)."]
    lines = [
        f"**Training pipeline** `{record['pipeline']}`: **{record['status']}**"
        + (f" ({record['failure_reason']})" if record.get("failure_reason") else ""),
        "",
        f"- execution: `{record['pipeline_execution_arn']}`",
        f"- model package: `{record['model_package_arn']}`"
        if record.get("model_package_arn")
        else "- model package: none registered",
        "",
        "| step | status | failure reason |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {s['name']} | {s['status']} | {s['failure_reason']} |" for s in record["steps"]]
    return lines


def smoke_section(record: dict | None) -> list[str]:
    if record is None:
        return ["**Endpoint smoke tests**: no evidence (the step did not run)."]
    lines = [
        f"**Endpoint smoke tests** (ml/smoke.py rules, latency budget {record['latency_budget_ms']} ms):",
        "",
        "| endpoint | status | result | latency | failed checks |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in record["endpoints"]:
        if not e["tested"]:
            lines.append(f"| `{e['name']}` | {e['status']} | not tested | | |")
            continue
        failed = "; ".join(f"{c['name']}: {c['detail']}" for c in e["checks"] if not c["passed"])
        result = "PASSED" if e["passed"] else "FAILED"
        lines.append(f"| `{e['name']}` | {e['status']} | {result} | {e['latency_ms']} ms | {failed} |")
    if not any(e["tested"] for e in record["endpoints"]):
        lines += ["", "No endpoint was in service, so none was smoke-tested."]
    return lines


def render(directory: Path) -> str:
    commit_file = directory / "commit"
    commit = commit_file.read_text().strip() if commit_file.is_file() else "unknown"
    pipeline, smoke = _read(directory, "pipeline.json"), _read(directory, "smoke.json")
    environment = (pipeline or smoke or {}).get("environment", "?")
    lines = [f"## Evidence from {environment} for commit `{commit}`", ""]
    lines += pipeline_section(pipeline)
    lines.append("")
    lines += smoke_section(smoke)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--record-commit", help="write the commit the evidence belongs to")
    parser.add_argument("--expect-commit", help="fail unless the evidence belongs to this commit")
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    if args.record_commit:
        (args.directory / "commit").write_text(args.record_commit + "\n")
    print(render(args.directory))
    if args.expect_commit:
        recorded = (args.directory / "commit").read_text().strip() if (args.directory / "commit").is_file() else None
        if recorded != args.expect_commit:
            print(f"evidence is for commit {recorded}, not {args.expect_commit}: refusing", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
