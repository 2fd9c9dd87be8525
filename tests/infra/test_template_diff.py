"""scripts/template_diff.py, the pull request's template diff, with the real CDK CLI on the synthesized assembly:
a changed stack shows what changed (offline, `cdk diff --template`), a new stack shows its resources, a removed one
is named, an identical one is listed as unchanged without running cdk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from template_diff import main

CDK = str(Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "cdk")


def test_the_summary_names_every_stack_and_shows_each_change(synthesis, tmp_path, capsys):
    base = tmp_path / "base"
    base.mkdir()
    for template in synthesis.outdir.glob("titanic-dev-*.template.json"):
        shutil.copy(template, base)
    serving = base / "titanic-dev-serving.template.json"
    old = json.loads(serving.read_text())
    old["Resources"]["GuardModelLatency6FAB7DA2"]["Properties"]["Threshold"] = 123
    serving.write_text(json.dumps(old))
    (base / "titanic-dev-training.template.json").unlink()  # the PR adds this stack
    retired = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    (base / "titanic-dev-retired.template.json").write_text(json.dumps(retired))

    head = tmp_path / "head"
    shutil.copytree(synthesis.outdir, head, ignore=shutil.ignore_patterns("titanic-prod-*"))
    manifest = json.loads((head / "manifest.json").read_text())
    manifest["artifacts"] = {k: v for k, v in manifest["artifacts"].items() if "titanic-prod-" not in k}
    (head / "manifest.json").write_text(json.dumps(manifest))

    assert main([str(base), str(head), "--cdk", CDK]) == 0
    summary = capsys.readouterr().out
    assert "3 of 7 stacks differ" in summary
    assert "| `titanic-dev-serving` | changed |" in summary
    assert "| `titanic-dev-retired` | removed (1 resources) |" in summary
    assert "| `titanic-dev-foundation` | unchanged |" in summary
    new = next(line for line in summary.splitlines() if line.startswith("| `titanic-dev-training`"))
    assert new.startswith("| `titanic-dev-training` | new (")
    serving_diff = summary.split("<summary>titanic-dev-serving</summary>", 1)[1].split("</details>", 1)[0]
    assert "[~] AWS::CloudWatch::Alarm GuardModelLatency" in serving_diff
    assert "[-] 123" in serving_diff and "[+] 1000000" in serving_diff
    training_diff = summary.split("<summary>titanic-dev-training</summary>", 1)[1].split("</details>", 1)[0]
    assert "[+] AWS::SageMaker::Pipeline Pipeline" in training_diff
    assert "<summary>titanic-dev-foundation</summary>" not in summary


def test_an_empty_assembly_is_an_error(tmp_path, capsys):
    assert main([str(tmp_path), str(tmp_path)]) == 2
    assert "no templates in" in capsys.readouterr().err
