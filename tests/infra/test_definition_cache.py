"""Phase 00/03: the synthesis cache (constructs/synth_cache.py) cannot ship a stale pipeline definition or image URI.

The cache key covers every project module the builder imports, and building a definition makes no network call (one
fresh build proves both). That every environment's definition as synthesized (cached) equals a build from scratch,
byte for byte, and that a warm synthesis never imports the SDK, is proved by the fresh synthesis of
tests/infra/test_offline.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import load_all_environments
from constructs import synth_cache
from constructs.sklearn_image import _retrieve_image_uri, sklearn_image_uri
from stacks.pipeline_definition_cache import DEFINITION_SOURCES, definition_key, pipeline_definition
from tests.infra.test_training_definition import SETTINGS, build_definition

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_every_cached_image_uri_equals_the_sdk_lookup():
    for region in sorted({config.region for config in load_all_environments()}):
        assert sklearn_image_uri(region) == _retrieve_image_uri(region)


def test_a_miss_builds_and_stores_and_a_hit_returns_the_stored_value(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_CACHE_DIR", str(tmp_path))
    calls = []
    assert synth_cache.cached("kind", "k1", lambda: calls.append(1) or "value") == "value"
    assert synth_cache.cached("kind", "k1", lambda: calls.append(1) or "other") == "value"
    assert calls == [1]
    assert (tmp_path / "kind" / "k1.txt").read_text() == "value"
    monkeypatch.setenv("SYNTH_CACHE", "off")
    assert synth_cache.cached("kind", "k1", lambda: "rebuilt") == "rebuilt"


def test_the_key_changes_with_any_setting_and_any_source_byte(tmp_path, monkeypatch):
    key = definition_key(SETTINGS)
    assert definition_key(dataclasses.replace(SETTINGS, quality_threshold=0.71)) != key
    assert definition_key(dataclasses.replace(SETTINGS, hyperparameters={"max-depth": 6})) != key
    source = tmp_path / "module.py"
    source.write_text("A = 1\n")
    monkeypatch.setattr(synth_cache, "PROJECT_ROOT", tmp_path)
    before = synth_cache.content_key("kind", {}, [source])
    source.write_text("A = 2\n")
    assert synth_cache.content_key("kind", {}, [source]) != before


def test_a_cold_cache_gives_the_same_definition(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_CACHE_DIR", str(tmp_path))
    assert pipeline_definition(SETTINGS) == build_definition(SETTINGS)  # stored on this miss
    assert pipeline_definition(SETTINGS) == build_definition(SETTINGS)  # read back on this hit


# SETTINGS' definition built in a fresh interpreter (the SDK's imports included) with sockets and botocore's HTTP
# sender refusing every call: what it tried to reach, and the project files it imported.
FRESH_BUILD = """
import json, socket, sys
from pathlib import Path
attempts = []
def refuse(self, address, *args, **kwargs):
    attempts.append(str(address))
    raise OSError("network disabled by test")
socket.socket.connect = refuse
socket.create_connection = lambda address, *a, **k: refuse(None, address)
import botocore.httpsession
def refuse_send(self, request):
    attempts.append(request.url)
    raise OSError("network disabled by test")
botocore.httpsession.URLLib3Session.send = refuse_send
from stacks.training_pipeline_contract import DefinitionSettings
from stacks.training_pipeline_definition import build_definition
definition = build_definition(DefinitionSettings(**json.loads(sys.argv[1])))
root = Path.cwd()
files = {Path(m.__file__).resolve() for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
ours = sorted(str(f.relative_to(root)) for f in files if f.is_relative_to(root) and ".venv" not in f.parts)
print(json.dumps({"attempts": attempts, "length": len(definition), "project_files": ours}))
"""


@pytest.fixture(scope="module")
def fresh_build() -> dict:
    """One fresh interpreter for both proofs below (each was seconds of its own), with no AWS variable at all (no
    credentials, region or metadata switch)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SAGEMAKER_"))}
    result = subprocess.run(
        [sys.executable, "-c", FRESH_BUILD, json.dumps(dataclasses.asdict(SETTINGS))],
        cwd=PROJECT_ROOT,
        env={**environment, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_building_the_definition_makes_no_network_call(fresh_build):
    """Every socket connection and botocore request refused: the build must succeed with zero attempts."""
    assert fresh_build["attempts"] == []
    assert fresh_build["length"] > 1000


def test_the_key_covers_every_project_module_the_builder_imports(fresh_build):
    hashed = {str(path.relative_to(PROJECT_ROOT)) for path in synth_cache.source_files(DEFINITION_SOURCES)}
    assert fresh_build["project_files"]
    assert set(fresh_build["project_files"]) - hashed == set()
