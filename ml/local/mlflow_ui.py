"""make mlflow-ui: the local tracking store (runs, metrics, plots, model versions and aliases) in the MLflow UI.

Serves the store `make run` writes (.local/mlflow, or MLFLOW_TRACKING_URI) on 127.0.0.1 only, with one worker (a
laptop, not a team server), until Ctrl-C.   python -m ml.local.mlflow_ui [--port 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ml.local import registry

HOST = "127.0.0.1"


def command(port: int) -> list[str]:
    """The `mlflow ui` command line for the local store; artifacts resolve to the files beside it."""
    uri = registry.tracking_uri()
    argv = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--registry-store-uri", uri]
    root = registry.artifact_root()
    if root:
        argv += ["--default-artifact-root", root]
    return [*argv, "--host", HOST, "--port", str(port), "--workers", "1"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    print(f"MLflow UI for {registry.tracking_uri()} on http://{HOST}:{args.port} (Ctrl-C stops)", flush=True)
    full = command(args.port)
    # The UI replaces this process (no shell: the arguments are ours): Ctrl-C and `kill` reach MLflow directly.
    os.execv(full[0], full)  # noqa: S606
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
