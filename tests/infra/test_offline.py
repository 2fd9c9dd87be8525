"""Synthesis needs no network: the whole app (every environment, cdk-nag on) synthesizes inside an empty network
namespace, where any connection attempt fails at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_full_synth_succeeds_with_no_network(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "ENV"}
    env["CDK_OUTDIR"] = str(tmp_path)
    # unshare -n: a new network namespace with no interfaces up (root, as on CI); -r maps the caller to root
    # in a user namespace so the same works unprivileged on a Linux laptop.
    command = ["unshare", "-rn", sys.executable, "app.py"]
    result = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.glob("*.template.json"))
    connect = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=2)"
    probe = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", connect],
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "Network is unreachable" in probe.stderr, "the namespace must really be offline"
