"""How the whole app (every environment) is synthesized for a test session; the session fixture `synthesis` that
holds it is in tests/conftest.py (access tests read it too)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from cloud_assembly import StackSummary, read_assembly

from app import create_app
from config import load_all_environments
from stacks.environment import PHASES

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass
class Synthesis:
    outdir: Path
    stacks: dict[str, StackSummary]
    error: str | None  # the synth error (nag finding, missing tag), if any


def synthesize(outdir: Path) -> Synthesis:
    app, _ = create_app(load_all_environments(), outdir=str(outdir))
    error = None
    try:
        app.synth()
    except RuntimeError as failure:  # cdk-nag findings and mandatory-tag errors surface here
        error = str(failure)
    return Synthesis(outdir, {stack.name: stack for stack in read_assembly(outdir)}, error)


def read_synthesis(outdir: Path) -> Synthesis:
    """An assembly synthesized by `make synth`: cdk-nag's failures are in its validation report."""
    if not (outdir / "manifest.json").is_file():
        raise FileNotFoundError(f"{outdir} holds no cloud assembly (run `make synth` first)")
    report = outdir / "validation-report.json"
    failed = []
    if report.is_file():
        plugins = json.loads(report.read_text())["pluginReports"]
        failed = [f"{p['pluginName']}: {p['conclusion']}" for p in plugins if p["conclusion"] != "success"]
    return Synthesis(outdir, {stack.name: stack for stack in read_assembly(outdir)}, "; ".join(failed) or None)


def normalize(template: dict) -> dict:
    """Asset hashes change with any byte of an asset; snapshots show the infrastructure, not the hashes."""
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))


# Every stack of every environment, known at collection time so each gets its own test ids.
STACK_NAMES = [config.names.stack(phase) for config in load_all_environments() for phase in PHASES]
