"""Phase 03: run the pipeline's four scripts from the code bundle, the way the SageMaker containers run them (no AWS).

    python scripts/bundle_smoke.py [--ml-root DIR] [--data data/titanic.csv] [--metric accuracy]

Packs `<ml-root>/ml` exactly as the training stack does (constructs/code_bundle.py), unpacks it in a temporary
folder and runs, with the bundle root as working directory: `python ml/preprocess.py`, `python ml/train.py` with the
training toolkit's SM_* variables, `python ml/evaluate.py` on a model.tar.gz (publishing its drift baseline as the
pipeline does), the quality-gate JsonGet on
evaluation.json, then imports `serving_entry.py` from another folder and predicts one passenger. Exit 0 when every
step works; it proves the bundle layout, not the containers' Python version.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import stacks  # noqa: E402, F401  (makes the project's constructs/ importable)
from config import load_environment  # noqa: E402
from constructs.code_bundle import build_tarball, collect  # noqa: E402
from ml.baseline import load as load_baseline  # noqa: E402
from ml.contracts import BASELINE_FILE, baseline_lift_json_path, json_path_value, metric_json_path  # noqa: E402
from ml.smoke import KNOWN_PASSENGERS  # noqa: E402
from stacks.training import BUNDLE_EXCLUDED_FOLDERS, SERVING_ENTRY_MODULE, SERVING_ENTRY_SOURCE  # noqa: E402

# Mr. Owen Harris Braund, third class: one of the smoke test's known passengers.
PASSENGER = next(passenger for passenger, _ in KNOWN_PASSENGERS if passenger["PassengerId"] == 1)

SERVING_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("serving_entry", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = module.model_fn(sys.argv[2])
# output_fn needs the container's Response class; the entry module answers with ml.inference.transform, called here.
reply = module.transform(model, json.dumps({"instances": [json.loads(sys.argv[3])]}), "application/json", None)
print(reply.status, reply.body)
"""


def run(step: str, command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    shown = "import serving_entry from another folder" if command[1] == "-c" else " ".join(command[1:])
    print(f"--- {step}: {shown}", flush=True)
    subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ml-root", type=Path, default=PROJECT_ROOT, help="folder that holds the ml/ package")
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT / "data" / "titanic.csv")
    gate = load_environment("dev").ml  # the pipeline's QualityGate defaults (config [ml])
    parser.add_argument("--metric", default=gate.quality_metric)
    parser.add_argument("--threshold", type=float, default=gate.quality_threshold)
    parser.add_argument("--baseline-margin", type=float, default=gate.baseline_margin)
    args = parser.parse_args(argv)

    files = collect(args.ml_root.resolve(), "ml", exclude=BUNDLE_EXCLUDED_FOLDERS)
    files[SERVING_ENTRY_MODULE] = SERVING_ENTRY_SOURCE
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bundle-smoke-") as temporary:
        work = Path(temporary)
        bundle = build_tarball(files)
        print(f"bundle: {len(bundle)} bytes, {', '.join(sorted(files))}")
        code = work / "code"
        with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
            tar.extractall(code, filter="data")
        (work / "raw").mkdir()
        (work / "raw" / args.data.name).write_bytes(args.data.read_bytes())

        run("DataPreProcessing", [python, "ml/preprocess.py", "--input-dir", "../raw", "--output-dir", "../splits",
                                  "--seed", "42"], code)  # fmt: skip
        run("TrainModel", [python, "ml/train.py"], code, {
            "SM_CHANNEL_TRAIN": str(work / "splits" / "train"),
            "SM_CHANNEL_VALIDATION": str(work / "splits" / "validation"),
            "SM_MODEL_DIR": str(work / "model"),
        })  # fmt: skip
        (work / "model-input").mkdir()
        with tarfile.open(work / "model-input" / "model.tar.gz", "w:gz") as tar:
            for path in sorted((work / "model").iterdir()):
                tar.add(path, arcname=path.name)
        run("ModelEvaluation", [python, "ml/evaluate.py", "--model-dir", "../model-input", "--test-dir",
                                "../splits/test", "--output-dir", "../evaluation", "--baseline-output-dir",
                                "../baseline"], code)  # fmt: skip
        published = load_baseline(work / "baseline" / BASELINE_FILE)
        print(f"--- drift baseline published: {len(published['features'])} columns, baseline_version "
              f"{published['baseline_version']}")  # fmt: skip

        report = json.loads((work / "evaluation" / "evaluation.json").read_text())
        # The pipeline's two conditions (stacks/training_pipeline_definition.py `_gate_step`), both must hold.
        for path, limit in (
            (metric_json_path(args.metric), args.threshold),
            (baseline_lift_json_path(args.metric), args.baseline_margin),
        ):
            value = json_path_value(report, path)
            print(f"--- QualityGate: JsonGet {path} = {value} >= {limit}: {float(value) >= limit}")

        (work / "elsewhere").mkdir()
        run("Serving", [python, "-c", SERVING_PROBE, str(code / SERVING_ENTRY_MODULE), str(work / "model"),
                        json.dumps(PASSENGER)], work / "elsewhere")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
