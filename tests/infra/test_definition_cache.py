"""Phase 00/03: the synthesis cache (constructs/synth_cache.py) cannot ship a stale pipeline definition or image URI.

Every environment's definition as synthesized (cached) is rebuilt from scratch with the SDK and compared byte for
byte; the cache key covers every project module the builder imports; a warm synthesis never imports the SDK.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from config import load_all_environments
from constructs import synth_cache
from constructs.sklearn_image import _retrieve_image_uri, sklearn_image_uri
from stacks.pipeline_definition_cache import DEFINITION_SOURCES, definition_key, pipeline_definition
from stacks.training_pipeline_contract import DefinitionSettings
from tests.infra.test_training_definition import SETTINGS, build_definition, deployed_definition

PROJECT_ROOT = Path(__file__).resolve().parents[2]


WARM_BUILD = """
import dataclasses, json, sys
from app import create_app
from config import load_all_environments
_, built = create_app(load_all_environments())
print(json.dumps({
    "sdk_modules": sorted(name for name in sys.modules if name == "sagemaker" or name.startswith("sagemaker.")),
    "training": {
        env.training.stack_name: [dataclasses.asdict(env.training.definition_settings), env.training.definition]
        for env in built
    },
}))
"""


@pytest.fixture(scope="module")
def warm_build() -> dict:
    """The construct tree of every environment built as `make synth` builds it (`python -O`), in a fresh interpreter.
    A cold cache (no synthesis yet for the current sources) is filled by a first build, which imports the SDK: built
    again."""

    def build() -> dict:
        result = subprocess.run(
            [sys.executable, "-O", "-c", WARM_BUILD], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
        return json.loads(result.stdout.strip().splitlines()[-1])

    first = build()
    return build() if first["sdk_modules"] else first


def test_every_cached_definition_equals_a_fresh_build_and_is_what_the_template_holds(warm_build, synthesis):
    assert sorted(warm_build["training"]) == sorted(n for n in synthesis.stacks if n.endswith("-training"))
    for stack, (settings, cached) in warm_build["training"].items():
        fresh = build_definition(DefinitionSettings(**settings))
        assert cached == fresh, stack
        body, _ = deployed_definition(synthesis.stacks[stack].template)
        assert body == fresh, stack


def test_a_warm_cache_builds_the_app_without_importing_the_sdk(warm_build):
    assert warm_build["sdk_modules"] == []


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


IMPORTED_PROJECT_FILES = """
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
from stacks.training_pipeline_contract import DefinitionSettings
from stacks.training_pipeline_definition import build_definition
build_definition(DefinitionSettings(**json.loads(sys.argv[2])))
files = {Path(m.__file__).resolve() for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
print(json.dumps(sorted(str(f.relative_to(root)) for f in files if f.is_relative_to(root) and ".venv" not in f.parts)))
"""


def test_the_key_covers_every_project_module_the_builder_imports():
    settings = json.dumps(dataclasses.asdict(SETTINGS))
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED_PROJECT_FILES, str(PROJECT_ROOT), settings],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = set(json.loads(result.stdout))
    hashed = {str(path.relative_to(PROJECT_ROOT)) for path in synth_cache.source_files(DEFINITION_SOURCES)}
    assert imported, result.stderr
    assert imported - hashed == set()
