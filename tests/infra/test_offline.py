"""Synthesis needs no network: the whole app (every environment, cdk-nag on) synthesizes inside an empty network
namespace, where any connection attempt fails at once. scripts/offline_run.py opens that namespace the way this
machine allows (an unprivileged user namespace, or sudo on GitHub's runners) or fails saying why."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from offline_run import run_offline

PROJECT = Path(__file__).resolve().parents[2]
CONNECT = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=2)"


def test_full_synth_succeeds_with_no_network(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "ENV"}
    env["CDK_OUTDIR"] = str(tmp_path)
    result = run_offline([sys.executable, "app.py"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.glob("*.template.json"))
    probe = run_offline([sys.executable, "-c", CONNECT], capture_output=True, text=True)
    assert probe.returncode != 0 and "Network is unreachable" in probe.stderr, "the namespace must really be offline"
