"""One fresh synthesis of the whole app (every environment, cdk-nag on), by app.py's main in a new interpreter inside
an empty network namespace where any connection attempt fails at once, proves:
- synthesis needs no network and is deterministic: its templates are byte-identical to the session's (itself fresh:
  the fixture's, or `make synth`'s just before, so a stale assembly fails too). It runs without -O: under `make
  test` the session's assembly is `make synth`'s, made with -O as every synthesis users run, so the comparison also
  proves -O changes no byte of any template;
- with a warm synthesis cache (constructs/synth_cache.py) the app builds without importing the SageMaker SDK, and
  every environment's cached pipeline definition equals one built from scratch with the SDK.
scripts/offline_run.py opens that namespace the way this machine allows (an unprivileged user namespace, or sudo on
GitHub's runners) or fails saying why."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import bench_synth
import pytest
from offline_run import run_offline

from stacks.training_pipeline_contract import DefinitionSettings
from tests.infra.conftest import STACK_NAMES
from tests.infra.test_training_definition import build_definition, deployed_definition

PROJECT = Path(__file__).resolve().parents[2]
CONNECT = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=2)"


# app.py's main as `python app.py` runs it, keeping what create_app built for a report printed after the synthesis.
APP_MAIN_REPORTING = """
import dataclasses, json, sys
import app
built = []
create_app = app.create_app
app.create_app = lambda *args, **kwargs: built.append(create_app(*args, **kwargs)) or built[-1]
assert app.main() == 0
(_, environments), = built
print(json.dumps({
    "sdk_modules": sorted(name for name in sys.modules if name == "sagemaker" or name.startswith("sagemaker.")),
    "training": {
        env.training.stack_name: [dataclasses.asdict(env.training.definition_settings), env.training.definition]
        for env in environments
    },
}))
"""


def _synthesize_offline(outdir: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "ENV"}  # every environment, as make synth
    env["CDK_OUTDIR"] = str(outdir)
    command = [sys.executable, "-c", APP_MAIN_REPORTING]
    result = run_offline(command, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"outdir": outdir, **json.loads(result.stdout.strip().splitlines()[-1])}


@pytest.fixture(scope="module")
def fresh_synthesis(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """{outdir, sdk_modules, training: {stack: [settings, definition]}}. A cold cache (no synthesis yet of the current
    sources) is filled by a first run, which imports the SDK: synthesized again."""
    first = _synthesize_offline(tmp_path_factory.mktemp("cdk.out"))
    return _synthesize_offline(tmp_path_factory.mktemp("cdk.out")) if first["sdk_modules"] else first


def test_full_synth_with_no_network_gives_byte_identical_templates(fresh_synthesis, synthesis):
    assert synthesis.error is None
    for stack in STACK_NAMES:
        template = f"{stack}.template.json"
        assert (fresh_synthesis["outdir"] / template).read_bytes() == (synthesis.outdir / template).read_bytes(), stack
    probe = run_offline([sys.executable, "-c", CONNECT], capture_output=True, text=True)
    assert probe.returncode != 0 and "Network is unreachable" in probe.stderr, "the namespace must really be offline"


def test_a_warm_cache_builds_the_app_without_importing_the_sdk(fresh_synthesis):
    assert fresh_synthesis["sdk_modules"] == []


def test_every_cached_definition_equals_a_fresh_build_and_is_what_the_template_holds(fresh_synthesis, synthesis):
    assert sorted(fresh_synthesis["training"]) == sorted(n for n in synthesis.stacks if n.endswith("-training"))
    for stack, (settings, cached) in fresh_synthesis["training"].items():
        fresh = build_definition(DefinitionSettings(**settings))
        assert cached == fresh, stack
        body, _ = deployed_definition(synthesis.stacks[stack].template)
        assert body == fresh, stack


def test_make_synth_the_cdk_cli_and_the_benchmark_run_the_app_alike():
    makefile = (PROJECT / "Makefile").read_text()
    (synth,) = re.findall(r"^SYNTH = .*$", makefile, flags=re.MULTILINE)
    assert synth.endswith("$(PY) -O app.py")
    assert json.loads((PROJECT / "cdk.json").read_text())["app"] == ".venv/bin/python -O app.py"
    commands = [command[:2] for command, _ in bench_synth.COMMANDS.values()]
    assert commands == [[sys.executable, "-O"]] * len(bench_synth.COMMANDS)
