"""A pull request's infrastructure change, readable: its synthesized templates against the base branch's, per stack.

    python scripts/template_diff.py BASE_CDK_OUT [HEAD_CDK_OUT] [--cdk node_modules/.bin/cdk]

Prints Markdown (the checks workflow appends it to the job summary): a table of every stack (changed, new, removed,
unchanged) and, per changed or new stack, what `cdk diff --app HEAD --template BASE_TEMPLATE --exclusively STACK`
prints (offline: it compares two files, no AWS call). The snapshots under tests/infra/__snapshots__ stay the
source of truth; this only makes their change readable.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SUFFIX = ".template.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_DIFF_CHARS = 60_000  # GitHub caps a step summary at 1 MiB; a diff this long is read in the artifact anyway


def stacks(outdir: Path) -> dict[str, Path]:
    return {path.name.removesuffix(SUFFIX): path for path in sorted(outdir.glob(f"*{SUFFIX}"))}


def cdk_diff(cdk: str, head: Path, stack: str, base_template: Path) -> str:
    """cdk diff of one stack of the HEAD assembly against a template file, without colours or notices."""
    command = [cdk, "diff", "--no-notices", "--no-color", "--app", str(head), "--exclusively", stack]
    done = subprocess.run(
        [*command, "--template", str(base_template)], capture_output=True, text=True, check=False, timeout=300
    )
    text = ANSI.sub("", done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise RuntimeError(f"cdk diff {stack} failed (exit {done.returncode}): {text[-2000:]}")
    return text


def _resources(path: Path) -> int:
    return len(json.loads(path.read_text()).get("Resources", {}))


def render(base: Path, head: Path, cdk: str) -> str:
    before, after = stacks(base), stacks(head)
    rows, details = [], []
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / f"empty{SUFFIX}"
        empty.write_text(json.dumps({"Resources": {}}))
        for name in sorted(set(before) | set(after)):
            if name not in after:
                rows.append((name, f"removed ({_resources(before[name])} resources)"))
                continue
            old = before.get(name)
            if old is not None and json.loads(old.read_text()) == json.loads(after[name].read_text()):
                rows.append((name, "unchanged"))
                continue
            rows.append((name, "changed" if old else f"new ({_resources(after[name])} resources)"))
            text = cdk_diff(cdk, head, name, old or empty)
            if len(text) > MAX_DIFF_CHARS:
                text = text[:MAX_DIFF_CHARS] + "\n... (cut: the full diff is in the cloud-assembly artifact)"
            details.append(f"<details><summary>{name}</summary>\n\n```text\n{text}\n```\n\n</details>\n")
    changed = sum(1 for _, change in rows if change != "unchanged")
    lines = [
        "## Synthesized templates: this pull request against its base branch",
        "",
        f"{changed} of {len(rows)} stacks differ (snapshots under tests/infra/__snapshots__ hold the full templates).",
        "",
        "| stack | change |",
        "| --- | --- |",
        *[f"| `{name}` | {change} |" for name, change in rows],
        "",
        *details,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the base branch's synthesized cloud assembly")
    parser.add_argument("head", type=Path, nargs="?", default=Path("cdk.out"), help="this branch's (cdk.out)")
    parser.add_argument("--cdk", default="node_modules/.bin/cdk")
    args = parser.parse_args(argv)
    for outdir in (args.base, args.head):
        if not stacks(outdir):
            print(f"template_diff: no templates in {outdir}", file=sys.stderr)
            return 2
    print(render(args.base, args.head, args.cdk))
    return 0


if __name__ == "__main__":
    sys.exit(main())
