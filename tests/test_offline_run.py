"""scripts/offline_run.py: the command runs with no network, as the caller, with the caller's environment, whichever
way this machine allows; where no way is allowed it does not run and the error says what each way answered.

On this project's CI (root) the user-namespace way runs; on GitHub's runners (user `runner`, user namespaces refused)
the sudo way does. docs/05-cicd-github-actions.md shows both passing on one machine (scripts/runner_conditions.sh).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import offline_run
import pytest

PROBE = """
import os, socket, sys
assert os.environ["OFFLINE_RUN_MARKER"] == "kept", "the caller's environment must reach the command"
open(sys.argv[1], "w").write("written inside")
try:
    socket.create_connection(("1.1.1.1", 443), timeout=2)
    print("internet: REACHABLE")
except OSError as error:
    print("internet:", error.strerror)
server = socket.create_server(("127.0.0.1", 0))
try:
    socket.create_connection(server.getsockname(), timeout=2).close()
    print("loopback: up")
except OSError as error:
    print("loopback:", error.strerror)
"""


def _probe(tmp_path: Path, loopback: bool) -> tuple[str, Path]:
    written = tmp_path / "written"
    env = {**os.environ, "OFFLINE_RUN_MARKER": "kept"}
    done = offline_run.run_offline(
        [sys.executable, "-c", PROBE, str(written)], loopback=loopback, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, written


def test_the_command_runs_offline_with_loopback_as_the_caller(tmp_path):
    output, written = _probe(tmp_path, loopback=True)
    assert "internet: Network is unreachable" in output
    assert "loopback: up" in output
    assert written.read_text() == "written inside"
    assert written.stat().st_uid == os.getuid(), "files the command writes belong to the caller, never to root"


def test_without_loopback_nothing_is_up(tmp_path):
    output, _ = _probe(tmp_path, loopback=False)
    assert "internet: Network is unreachable" in output
    assert "loopback: up" not in output


def _refusing(tmp_path: Path, name: str, message: str) -> None:
    tool = tmp_path / name
    tool.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


def test_a_machine_that_refuses_both_ways_gets_a_clear_failure(tmp_path, monkeypatch, capsys):
    # A PATH where `unshare` and `sudo` refuse as GitHub's runner and a sudo-less host would: decision logic only.
    _refusing(tmp_path, "unshare", "unshare: unshare failed: Operation not permitted")
    _refusing(tmp_path, "sudo", "sudo: a password is required")
    monkeypatch.setenv("PATH", str(tmp_path))
    offline_run.mechanism.cache_clear()
    try:
        with pytest.raises(offline_run.OfflineUnavailable) as refused:
            offline_run.offline_command(["true"])
        assert offline_run.main(["--", "true"]) == offline_run.EXIT_UNAVAILABLE
    finally:
        offline_run.mechanism.cache_clear()
    message = str(refused.value)
    assert "`unshare -rn` was refused (unshare: unshare failed: Operation not permitted)" in message
    if os.geteuid() == 0:  # root needs no sudo: its own `unshare -n` was the second way tried
        assert "`unshare -n` was refused (unshare: unshare failed: Operation not permitted)" in message
    else:
        assert f"`{tmp_path}/sudo -n unshare -n` was refused (sudo: a password is required)" in message
    assert "passwordless sudo" in message
    assert "offline_run: cannot run without network here" in capsys.readouterr().err


def test_which_names_the_way_in_use(capsys):
    assert offline_run.main(["--which"]) == 0
    assert capsys.readouterr().out.strip() == offline_run.mechanism().description
