"""Phase 06: every alert of every synthesized template names a runbook that exists, and every runbook is named by an
alert (docs/runbooks/README.md states the convention); the runbooks' make commands exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config.paths import PROJECT_ROOT
from config.resource_names import RUNBOOK_TAG, RUNBOOKS_FOLDER, runbook, with_runbook

PHRASE = re.compile(r"Runbook: (docs/runbooks/[a-z0-9-]+\.md)$")
PATH = re.compile(r"^docs/runbooks/[a-z0-9-]+\.md$")
ALARMS = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
RUNBOOKS = sorted(p for p in (PROJECT_ROOT / RUNBOOKS_FOLDER).glob("*.md") if p.name != "README.md")


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def alert_sources(synthesis) -> list[tuple[str, str, str | None]]:
    """(stack/logical id, resource type, the runbook it names or None) of every alert source: alarms and composite
    alarms (their description ends with the phrase), budgets (their runbook tag), and schedules or rules whose
    description names one."""
    found = []
    for stack_name, stack in sorted(synthesis.stacks.items()):
        for logical_id, resource in sorted(stack.template.get("Resources", {}).items()):
            kind, properties = resource["Type"], resource.get("Properties", {})
            where = f"{stack_name}/{logical_id}"
            if kind in ALARMS:
                match = PHRASE.search(_text(properties.get("AlarmDescription", "")))
                found.append((where, kind, match and match[1]))
            elif kind == "AWS::Budgets::Budget":
                tags = {tag["Key"]: tag["Value"] for tag in properties.get("ResourceTags", [])}
                found.append((where, kind, tags.get(RUNBOOK_TAG)))
            elif kind in ("AWS::Scheduler::Schedule", "AWS::Events::Rule"):
                match = PHRASE.search(_text(properties.get("Description", "")))
                if match:
                    found.append((where, kind, match[1]))
    return found


def test_every_alarm_and_budget_of_every_template_names_an_existing_runbook(synthesis):
    sources = alert_sources(synthesis)
    assert sum(kind in ALARMS for _, kind, _ in sources) > 40  # both environments, every stack's alarms
    unnamed = [where for where, _, path in sources if path is None or not PATH.match(path)]
    assert not unnamed, (
        "end each alarm description with `Runbook: docs/runbooks/<name>.md` (config.resource_names.with_runbook): "
        f"{unnamed}"
    )
    missing = sorted({path for _, _, path in sources if not (PROJECT_ROOT / path).is_file()})
    assert not missing, f"named runbooks that do not exist: {missing}"


def test_every_runbook_is_named_by_an_alert(synthesis):
    named = {path for _, _, path in alert_sources(synthesis)}
    orphaned = [p.name for p in RUNBOOKS if f"{RUNBOOKS_FOLDER}/{p.name}" not in named]
    assert RUNBOOKS and not orphaned, f"runbooks no alert names (remove them or name them): {orphaned}"


def test_the_index_lists_every_runbook():
    index = (PROJECT_ROOT / RUNBOOKS_FOLDER / "README.md").read_text()
    assert sorted(re.findall(r"\]\(([a-z0-9-]+\.md)\)", index)) == [p.name for p in RUNBOOKS]


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_a_runbook_has_its_parts_and_only_real_make_targets(path: Path):
    text = path.read_text()
    for part in ("**Alerts:**", "**Symptom:**", "## First three checks", "## Fix", "## Confirm", "## Prevention"):
        assert part in text, f"{path.name} lacks {part}"
    targets = set(re.findall(r"^([a-z][a-z-]*):", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE))
    used = set(re.findall(r"`make ([a-z][a-z-]*)", text)) | set(re.findall(r"^\s*make ([a-z][a-z-]*)", text, re.M))
    assert used <= targets, f"{path.name} names make targets that do not exist: {sorted(used - targets)}"


def test_the_convention_helpers_write_the_phrase_the_test_reads():
    assert runbook("budget-alert") == "Runbook: docs/runbooks/budget-alert.md"
    described = with_runbook("An execution failed.", "workflow-failed")
    assert described == "An execution failed. Runbook: docs/runbooks/workflow-failed.md"
    assert PHRASE.search(described)[1] == "docs/runbooks/workflow-failed.md"
    with pytest.raises(ValueError, match="1024"):
        with_runbook("x" * 1020, "workflow-failed")
