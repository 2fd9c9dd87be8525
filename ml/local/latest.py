"""Where the latest locally registered model and its drift baseline are (behind `make drift` without BASELINE=).

CLI:  python -m ml.local.latest {model,baseline} [--version N]   prints the path; exit 2 (a message) when there is none.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ml import contracts
from ml.local import registry

EXIT_NONE = 2  # the drift check's "unusable input": without a baseline there is nothing to check against


def model_dir(version: str | None = None) -> Path:
    """The folder of a registered version's model files (the latest by default), from the local registry."""
    return registry.model_path(registry.get_version(version))


def baseline_file(version: str | None = None) -> Path:
    return model_dir(version) / contracts.BASELINE_FILE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the path of a locally registered model or of its baseline.")
    parser.add_argument("what", choices=("model", "baseline"))
    parser.add_argument("--version", default=None, help="model version (default: the latest)")
    args = parser.parse_args(argv)
    try:
        path = model_dir(args.version) if args.what == "model" else baseline_file(args.version)
    except registry.RegistryError as error:
        print(f"latest: {error}", file=sys.stderr)
        return EXIT_NONE
    if not path.exists():
        print(f"latest: {path} does not exist (registered before baselines existed? run `make run`)", file=sys.stderr)
        return EXIT_NONE
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
