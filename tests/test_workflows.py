"""The GitHub workflows hold the gates docs/05 describes (the schema and zizmor run in `make lint`)."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = {path.stem: yaml.safe_load(path.read_text()) for path in (ROOT / ".github" / "workflows").glob("*.yml")}
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def _steps(workflow: dict):
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_action_is_pinned_to_a_commit_and_token_scopes_are_per_job(name):
    workflow = WORKFLOWS[name]
    assert workflow["permissions"] == {"contents": "read"}
    for job, step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{name}/{job}: {step['uses']} is not pinned to a full commit SHA"
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    for job, body in workflow["jobs"].items():
        uses_aws = any("configure-aws-credentials" in step.get("uses", "") for step in body.get("steps", []))
        assert (body.get("permissions", {}).get("id-token") == "write") == uses_aws, f"{name}/{job}"


def test_deploys_of_one_environment_never_overlap_and_prod_deploys_what_dev_ran():
    jobs = WORKFLOWS["deploy"]["jobs"]
    for env in ("dev", "prod"):
        assert jobs[env]["environment"] == env
        assert jobs[env]["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
        assert [s["run"] for s in jobs[env]["steps"] if "make deploy" in s.get("run", "")] == [
            f"make deploy ENV={env} APPROVAL=never"
        ]
    assert "concurrency" not in WORKFLOWS["deploy"], "one workflow-wide group would hold dev behind a prod approval"
    assert jobs["evidence"]["needs"] == "dev" and "environment" not in jobs["evidence"]
    assert jobs["prod"]["needs"] == ["dev", "evidence"]
    checkout = next(s for s in jobs["prod"]["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ needs.dev.outputs.commit }}"
    runs = [s.get("run", "") for s in jobs["prod"]["steps"]]
    check = next(i for i, run in enumerate(runs) if "--expect-commit" in run)
    assert check < next(i for i, run in enumerate(runs) if "make deploy" in run)
    dev_runs = "\n".join(s.get("run", "") for s in jobs["dev"]["steps"])
    assert "make pipeline-start ENV=dev EVIDENCE=evidence/pipeline.json" in dev_runs
    assert "make smoke ENV=dev EVIDENCE=evidence/smoke.json" in dev_runs


def test_pull_requests_get_the_security_gates_and_a_template_diff():
    runs = {
        job: "\n".join(s.get("run", "") for s in body["steps"]) for job, body in WORKFLOWS["checks"]["jobs"].items()
    }
    assert "make test" in runs["test"]
    assert "make checkov" in runs["iac-security-scan"]
    assert "make audit" in runs["dependency-audit"]
    assert "terraform fmt -check" in runs["terraform"] and "validate" in runs["terraform"]
    assert "make template-diff BASE=cdk.out.base" in runs["template-diff"]
    assert "make diff ENV=dev DIFF_METHOD=template" in runs["deployed-diff"]


def test_terraform_is_installed_at_one_version_the_bootstrap_accepts():
    versions = set()
    for _, step in (pair for workflow in WORKFLOWS.values() for pair in _steps(workflow)):
        if step.get("uses", "").startswith("hashicorp/setup-terraform@"):
            assert step["with"]["terraform_wrapper"] is False
            version = step["with"]["terraform_version"]
            versions.add(WORKFLOWS["checks"]["env"]["TERRAFORM_VERSION"] if "env." in version else version)
    assert len(versions) == 1
    (version,) = versions
    required = hcl2.load((ROOT / "terraform" / "bootstrap" / "versions.tf").open())["terraform"][0]
    minimum = required["required_version"].strip('"').removeprefix(">=").strip()
    as_tuple = [tuple(int(part) for part in v.split(".")) for v in (version, minimum)]
    assert as_tuple[0] >= as_tuple[1], f"terraform {version} does not satisfy {required['required_version']}"


def test_the_dispatch_workflow_starts_the_chosen_environments_pipeline():
    job = WORKFLOWS["pipeline"]["jobs"]["start"]
    triggers = WORKFLOWS["pipeline"][True]  # YAML 1.1 (PyYAML) reads the key `on` as the boolean True
    assert triggers["workflow_dispatch"]["inputs"]["environment"]["type"] == "environment"
    assert job["environment"] == "${{ inputs.environment }}"
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'make pipeline-start ENV="$TARGET_ENV" PARAMS="$PARAMETERS"' in runs
    assert runs.index("bad parameters") < runs.index("make pipeline-start")
