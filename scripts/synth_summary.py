"""Phase 00: print what `make synth` produced: environment, stack, resource count and cdk-nag result per stack."""

from __future__ import annotations

import sys
from pathlib import Path

from cloud_assembly import read_assembly


def main(outdir: str = "cdk.out") -> int:
    stacks = read_assembly(Path(outdir))
    rows = [("environment", "stack", "resources", "cdk-nag")]
    for stack in stacks:
        nag = f"FAIL: {len(stack.findings)} finding(s)" if stack.findings else f"pass ({len(stack.used)} acknowledged)"
        rows.append((stack.environment, stack.name, str(stack.resource_count), nag))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    environments = sorted({stack.environment for stack in stacks})
    total = sum(stack.resource_count for stack in stacks)
    print(f"\n{len(stacks)} stacks, {total} resources, environments: {', '.join(environments)}")
    return 1 if any(stack.findings for stack in stacks) else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
