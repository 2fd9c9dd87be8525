#!/usr/bin/env python3
"""Run a command with no network: in a new network namespace where nothing, or only loopback, is up.

    python scripts/offline_run.py [--loopback] -- COMMAND [ARG...]
    python scripts/offline_run.py --which          # say which way this machine allows, or why none

The offline proofs (tests/infra/test_offline.py, tests/ml/test_flow.py) use it. Two ways, tried in this order:
1. `unshare -rn`: an unprivileged user namespace maps the caller to root inside it, which may open a network
   namespace. Works for root and, on most Linux laptops, for any user.
2. `sudo -n unshare -n`, then straight back to the invoking user (setpriv with the caller's uid, gid and groups)
   with the caller's environment, before the command starts. For hosts that refuse unprivileged user namespaces but
   give passwordless sudo: GitHub's ubuntu-24.04 runners (AppArmor restriction, user `runner`). Root needs no sudo.
Neither: the command does not run; OfflineUnavailable (exit 3) says what each way answered. Never a silent skip and
never a run with the network on.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

EXIT_UNAVAILABLE = 3
# `ip` lives in sbin, which a non-root user's PATH may lack (Debian); both ways need it for --loopback.
SBIN = ("/usr/sbin", "/sbin")


class OfflineUnavailable(RuntimeError):
    """Neither way to drop the network is allowed here; the message says what each answered."""


@dataclass(frozen=True)
class Mechanism:
    name: str  # "user-namespace" | "sudo"
    description: str
    elevate: tuple[str, ...]  # prefix that gets CAP_SYS_ADMIN for `unshare -n` (sudo), empty for root


def _tool(name: str, path: str | None) -> str:
    search = os.pathsep.join([path or os.environ.get("PATH", ""), *SBIN])
    found = shutil.which(name, path=search)
    if not found:
        raise OfflineUnavailable(f"`{name}` is not installed (searched {search})")
    return found


def _refusal(command: Sequence[str], path: str | None) -> str | None:
    """None when `command` works here, else what it printed (its reason for refusing)."""
    env = {**os.environ, "PATH": path} if path else None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


@functools.cache
def mechanism(path: str | None = None) -> Mechanism:
    """The first way this machine allows (probed once per process; `path` replaces PATH, for tests)."""
    unshare = _tool("unshare", path)
    user_ns = _refusal([unshare, "-rn", "true"], path)
    if user_ns is None:
        return Mechanism("user-namespace", "unshare -rn (unprivileged user namespace)", ())
    sudo_binary = shutil.which("sudo", path=path)
    elevate = () if os.geteuid() == 0 else (sudo_binary or "sudo", "-n")
    missing = elevate and not sudo_binary
    sudo = "sudo is not installed" if missing else _refusal([*elevate, unshare, "-n", "true"], path)
    if sudo is None:
        how = "unshare -n as root" if not elevate else "sudo -n unshare -n"
        return Mechanism("sudo", f"{how}, then setpriv back to uid {os.getuid()}", elevate)
    raise OfflineUnavailable(
        "cannot run without network here: `unshare -rn` was refused "
        f"({user_ns}) and `{' '.join([*elevate, 'unshare', '-n'])}` was refused ({sudo}). "
        "Allow unprivileged user namespaces or give passwordless sudo (docs/05-cicd-github-actions.md)."
    )


def offline_command(
    argv: Sequence[str],
    *,
    loopback: bool = False,
    env: Mapping[str, str] | None = None,
    path: str | None = None,
    way: Mechanism | None = None,
) -> list[str]:
    """The argv that runs `argv` with no network (loopback up if asked) and environment `env` (default: ours)."""
    way = way or mechanism(path)
    unshare = _tool("unshare", path)
    up = [_tool("sh", path), "-c", f'{shlex.quote(_tool("ip", path))} link set lo up && exec "$@"', "sh"]
    up = up if loopback else []
    if way.name == "user-namespace":
        return [unshare, "-rn", "--", *up, *argv]
    # sudo resets the environment and runs as root: setpriv restores the caller's identity, env -i its variables.
    groups = os.getgroups()
    drop = [
        _tool("setpriv", path),
        f"--reuid={os.getuid()}",
        f"--regid={os.getgid()}",
        f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups",
        "--",
    ]
    variables = [f"{key}={value}" for key, value in (os.environ if env is None else env).items()]
    return [*way.elevate, unshare, "-n", "--", *up, *drop, _tool("env", path), "-i", *variables, *argv]


def run_offline(
    argv: Sequence[str], *, loopback: bool = False, env: Mapping[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """subprocess.run of `argv` with no network; the same `env` reaches the command whichever way is used."""
    return subprocess.run(offline_command(argv, loopback=loopback, env=env), env=env, **kwargs)


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loopback", action="store_true", help="bring the namespace's loopback interface up")
    parser.add_argument("--which", action="store_true", help="print the way this machine allows and exit")
    parser.add_argument("command", nargs="*", help="the command to run (after --)")
    options = parser.parse_args(args)
    try:
        if options.which:
            print(mechanism().description)
            return 0
        if not options.command:
            parser.error("a command is required: offline_run.py [--loopback] -- COMMAND [ARG...]")
        return run_offline(options.command, loopback=options.loopback, check=False).returncode
    except OfflineUnavailable as error:
        print(f"offline_run: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
