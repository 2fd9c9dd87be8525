"""Phase 00: read a synthesized cloud assembly (cdk.out): stacks, templates, cdk-nag findings and acknowledgments."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.phases import PHASE_NUMBERS

ACKNOWLEDGED_RULES_KEY = "aws:cdk:acknowledged-rules"


@dataclass(frozen=True)
class Acknowledgment:
    path: str  # construct that carries the acknowledgment
    rule: str  # e.g. AwsSolutions::AwsSolutions-IAM5[Action::s3:List*]
    reason: str


@dataclass
class StackSummary:
    name: str
    environment: str
    phase: str
    template: dict
    declared: list[Acknowledgment] = field(default_factory=list)  # every acknowledgment in the code
    used: list[tuple[str, Acknowledgment]] = field(default_factory=list)  # (finding path, acknowledgment that hid it)
    findings: list[str] = field(default_factory=list)  # unacknowledged: any one fails synth

    @property
    def phase_number(self) -> str:
        """The seed's phase number of the stack (config/names.py), for listing in phase order."""
        return PHASE_NUMBERS.get(self.phase, "99")

    @property
    def resource_count(self) -> int:
        return len(self.template.get("Resources", {}))

    @property
    def stale(self) -> list[Acknowledgment]:
        """Acknowledgments that suppress nothing: dead exceptions a reviewer would still have to read."""
        used = {ack for _, ack in self.used}
        return [ack for ack in self.declared if ack not in used]


def read_assembly(outdir: Path) -> list[StackSummary]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks: dict[str, StackSummary] = {}
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        # Every stack carries its environment and phase as stack tags (stacks/environment.py), read back as data.
        tags = artifact["properties"].get("tags", {})
        stack = StackSummary(name, tags.get("env", "?"), tags.get("phase", "?"), template)
        metadata = json.loads((outdir / artifact["additionalMetadataFile"]).read_text())
        for path, entries in metadata.items():
            for entry in entries:
                if entry.get("type") == ACKNOWLEDGED_RULES_KEY:
                    stack.declared += [
                        Acknowledgment(path.lstrip("/"), rule, reason) for rule, reason in entry["data"].items()
                    ]
        stacks[name] = stack
    report = json.loads((outdir / "validation-report.json").read_text())
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation["violatingConstructs"]:
                stacks[_stack_of(construct)].findings.append(f"{violation['ruleName']} at {construct['constructPath']}")
        for suppressed in plugin.get("suppressedViolations", []):
            ack = Acknowledgment(suppressed["acknowledgedAt"], suppressed["acknowledgedId"], suppressed["reason"])
            for construct in suppressed["violatingConstructs"]:
                stacks[_stack_of(construct)].used.append((construct["constructPath"], ack))
    return sorted(stacks.values(), key=lambda stack: (stack.environment, stack.phase_number, stack.name))


def _stack_of(construct: dict) -> str:
    return construct["constructPath"].split("/", 1)[0]
