"""Synthesis needs no network and is deterministic: the whole app (every environment, cdk-nag on) synthesizes inside an
empty network namespace, where any connection attempt fails at once, into templates byte-identical to the session's
(itself fresh: the fixture's, or `make synth`'s just before, so a stale assembly fails too). One fresh synthesis
proves both. It runs without -O: under `make test` the session's assembly is `make synth`'s, made with -O as every
synthesis users run, so the comparison also proves -O changes no byte of any template. scripts/offline_run.py opens
that namespace the way this machine allows (an unprivileged user namespace, or sudo on GitHub's runners) or fails
saying why."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import bench_synth
from offline_run import run_offline

from tests.infra.conftest import STACK_NAMES

PROJECT = Path(__file__).resolve().parents[2]
CONNECT = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=2)"


def test_full_synth_with_no_network_gives_byte_identical_templates(synthesis, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "ENV"}
    env["CDK_OUTDIR"] = str(tmp_path)
    result = run_offline([sys.executable, "app.py"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert synthesis.error is None
    for stack in STACK_NAMES:
        template = f"{stack}.template.json"
        assert (tmp_path / template).read_bytes() == (synthesis.outdir / template).read_bytes(), stack
    probe = run_offline([sys.executable, "-c", CONNECT], capture_output=True, text=True)
    assert probe.returncode != 0 and "Network is unreachable" in probe.stderr, "the namespace must really be offline"


def test_make_synth_the_cdk_cli_and_the_benchmark_run_the_app_alike():
    makefile = (PROJECT / "Makefile").read_text()
    (synth,) = re.findall(r"^SYNTH = .*$", makefile, flags=re.MULTILINE)
    assert synth.endswith("$(PY) -O app.py")
    assert json.loads((PROJECT / "cdk.json").read_text())["app"] == ".venv/bin/python -O app.py"
    commands = [command[:2] for command, _ in bench_synth.COMMANDS.values()]
    assert commands == [[sys.executable, "-O"]] * len(bench_synth.COMMANDS)
