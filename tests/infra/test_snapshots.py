"""Snapshots of every template of every environment: a PR shows its infrastructure diff here.

Update after an intended change with `make snapshots` and review the diff like code.
"""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.infra.conftest import STACK_NAMES, normalize, synthesize


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_template_snapshot(synthesis, snapshot_json, stack):
    assert normalize(synthesis.stacks[stack].template) == snapshot_json


def test_two_synths_give_byte_identical_templates(synthesis, tmp_path):
    """A fresh synthesis against the session's (itself fresh: the fixture's, or `make synth`'s just before)."""
    again = synthesize(tmp_path)
    assert again.error is None
    for stack in STACK_NAMES:
        template = f"{stack}.template.json"
        assert (again.outdir / template).read_bytes() == (synthesis.outdir / template).read_bytes(), stack
