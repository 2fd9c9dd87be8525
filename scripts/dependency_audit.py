"""Dependency audit that never passes silently: pip-audit --strict on what the project installs and ships.

    python scripts/dependency_audit.py PIP_AUDIT [--path SITE_PACKAGES]... [--requirement FILE]...

Each target is audited with `pip-audit --strict` (the venv built from the pinned requirement files: every package
installed, transitive ones included; a requirement file shipped elsewhere, resolved by pip-audit). Exceptions are
listed with their reason in scripts/audit_exceptions.toml and passed as --ignore-vuln.

pip-audit without --strict prints "No known vulnerabilities found" and exits 0 even when it could audit nothing (its
vulnerability service unreachable: every package "skipped"); with --strict it stops at the first such package. So when
the strict run fails this script reads pip-audit's JSON report to say what happened: which packages have known
vulnerabilities (exit 1), or how many could not be audited and why (exit 2). "No known vulnerabilities" is printed only
for packages that were all audited.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

EXCEPTIONS = Path(__file__).with_name("audit_exceptions.toml")
EXIT_VULNERABLE = 1
EXIT_NOT_AUDITED = 2


@dataclass
class Outcome:
    target: str
    audited: int
    skipped: dict[str, str]  # package -> pip-audit's skip reason
    vulnerable: list[str]  # "package version: ID (aliases), fixed in ..."


def exceptions(path: Path = EXCEPTIONS) -> dict[str, str]:
    """{vulnerability id: package}; each entry must carry a reason (read there, not printed)."""
    entries = tomllib.loads(path.read_text()).get("exception", [])
    found = {}
    for entry in entries:
        if len(str(entry.get("reason", "")).strip()) < 20 or not entry.get("id"):
            raise ValueError(f"{path.name}: every exception needs an id and a specific reason: {entry}")
        found[entry["id"]] = str(entry.get("package", "?"))
    return found


def read_report(target: str, report: dict) -> Outcome:
    skipped, vulnerable, audited = {}, [], 0
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            skipped[dependency["name"]] = dependency["skip_reason"]
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            aliases = f" ({', '.join(vuln['aliases'])})" if vuln.get("aliases") else ""
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
            vulnerable.append(f"{dependency['name']} {dependency['version']}: {vuln['id']}{aliases}, fixed in {fixed}")
    return Outcome(target, audited, skipped, vulnerable)


def audit(pip_audit: str, target: list[str], ignored: list[str]) -> Outcome:
    """pip-audit --strict on one target; on failure, its non-strict JSON report says why."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "report.json"
        base = [pip_audit, "--progress-spinner", "off", "--format", "json", "--output", str(output), *target]
        base += [flag for vuln in ignored for flag in ("--ignore-vuln", vuln)]
        strict = subprocess.run([*base, "--strict"], capture_output=True, text=True, check=False)
        if strict.returncode != 0 or not output.exists():
            output.unlink(missing_ok=True)
            subprocess.run(base, capture_output=True, text=True, check=False)
        if not output.exists():
            return Outcome(" ".join(target), 0, {"(all)": strict.stderr.strip()[-1500:] or "pip-audit failed"}, [])
        outcome = read_report(" ".join(target), json.loads(output.read_text()))
    if strict.returncode != 0 and not outcome.skipped and not outcome.vulnerable:
        outcome.skipped["(pip-audit)"] = strict.stderr.strip()[-1500:] or f"exit {strict.returncode}"
    return outcome


def verdict(outcomes: list[Outcome], say=print) -> int:
    code = 0
    for outcome in outcomes:
        total = outcome.audited + len(outcome.skipped)
        for line in outcome.vulnerable:
            say(f"VULNERABLE {line}")
        if outcome.vulnerable:
            code = EXIT_VULNERABLE
        if outcome.skipped:
            first, reason = next(iter(outcome.skipped.items()))
            say(f"NOT AUDITED {outcome.target}: {len(outcome.skipped)} of {total} packages could not be audited")
            say(f"  first: {first}: {reason}")
            if outcome.audited == 0 and total > 1:
                say(
                    "  every package was skipped although all of them install from the package index: pip-audit's "
                    "vulnerability service is not reachable from here. Nothing was checked and no claim is made; "
                    "run `make audit` where it is reachable (the checks workflow does, on GitHub's runners)."
                )
            code = code or EXIT_NOT_AUDITED
        elif not outcome.vulnerable:
            say(f"audited {outcome.target}: {outcome.audited} packages, no known vulnerabilities")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pip_audit")
    parser.add_argument("--path", action="append", default=[], help="site-packages of an installed environment")
    parser.add_argument("--requirement", action="append", default=[], help="a pinned requirements file")
    args = parser.parse_args(argv)
    ignored = exceptions()
    for vuln, package in ignored.items():
        print(f"accepted {vuln} in {package} (reason: {EXCEPTIONS.name})")
    # Relative paths: the same report on every machine (pip-audit takes them as they are).
    inside = [Path(os.path.abspath(path)).is_relative_to(Path.cwd()) for path in args.path]
    paths = [os.path.relpath(path) if here else path for path, here in zip(args.path, inside)]
    targets = [["--path", path] for path in paths] + [["--requirement", req] for req in args.requirement]
    return verdict([audit(args.pip_audit, target, list(ignored)) for target in targets])


if __name__ == "__main__":
    sys.exit(main())
