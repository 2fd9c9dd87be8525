"""Snapshots of every template of every environment: a PR shows its infrastructure diff here.

Update after an intended change with `make snapshots` and review the diff like code. That the templates are
deterministic (a fresh synthesis gives the same bytes) is proved by tests/infra/test_offline.py.
"""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.infra.conftest import STACK_NAMES, normalize


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_template_snapshot(synthesis, snapshot_json, stack):
    assert normalize(synthesis.stacks[stack].template) == snapshot_json
