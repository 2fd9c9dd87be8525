"""Drive the Node IAM evaluator (evaluator.mjs, @cloud-copilot/iam-simulate) from Python: one process per run.

Node starts once (about 0.3 s); every batch of questions is one line of JSON each way over its stdin/stdout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("evaluator.mjs")
ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"


class EvaluatorUnavailable(RuntimeError):
    """Node or the pinned evaluator package is missing: `npm ci` (every make target that needs it runs it)."""


class Evaluator:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not PACKAGE.is_dir():
            raise EvaluatorUnavailable(
                f"the IAM evaluator needs Node and {PACKAGE.relative_to(ROOT)}: run `npm ci` (make test does)"
            )
        self._process = subprocess.Popen(
            [node, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )

    def _ask(self, op: str, items: list[Any]) -> list[dict]:
        if not items:
            return []
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps({"op": op, "items": items}) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the IAM evaluator stopped (exit code {self._process.poll()})")
        return json.loads(line)

    def actions(self, pairs: list[tuple[str, str]]) -> list[dict]:
        """For each (service prefix, action): whether IAM knows it, its resource types and ARN formats."""
        return self._ask("actions", [list(pair) for pair in pairs])

    def resource_types(self, pairs: list[tuple[str, str]]) -> list[dict]:
        """For each (service prefix, resource type name): whether IAM knows it, and its ARN format."""
        return self._ask("resourceTypes", [list(pair) for pair in pairs])

    def simulate(self, requests: list[dict]) -> list[dict]:
        return self._ask("simulate", requests)

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
