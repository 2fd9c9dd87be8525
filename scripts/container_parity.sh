#!/usr/bin/env bash
# Run ml/ on the SageMaker scikit-learn 1.2-1 container's versions (Python 3.9, scikit-learn 1.2.1, numpy 1.24.1,
# pandas 1.1.3, no matplotlib) beside the local venv, and check both ways that models and metrics are interchangeable:
# each environment trains, each evaluates both models, all four evaluation reports must be identical.
# The container's Python 3.9 venv comes from scripts/container_venv.sh (.venv-container, created on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/container_venv.sh
LOCAL=.venv/bin/python
C=.venv-container/bin/python
echo ">> container side: $($C -c 'import sys, sklearn, numpy, pandas; print("Python", sys.version.split()[0], "scikit-learn", sklearn.__version__, "numpy", numpy.__version__, "pandas", pandas.__version__)')"
echo ">> local side:     $($LOCAL -c 'import sys, sklearn, numpy; print("Python", sys.version.split()[0], "scikit-learn", sklearn.__version__, "numpy", numpy.__version__)')"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
S="$W/splits"
"$C" ml/preprocess.py --input-dir data/titanic.csv --output-dir "$S"
"$LOCAL" ml/preprocess.py --input-dir data/titanic.csv --output-dir "$W/splits-local" >/dev/null
diff -r "$S" "$W/splits-local" && echo "splits: identical on both sides"
for side in C LOCAL; do
  "${!side}" ml/train.py --train "$S/train" --validation "$S/validation" --model-dir "$W/model-$side"
done
for model in C LOCAL; do
  for side in C LOCAL; do
    "${!side}" ml/evaluate.py --model-dir "$W/model-$model" --test-dir "$S/test" --output-dir "$W/eval-$model-on-$side" | tail -1
  done
done
"$C" - "$W" <<'PY'
import json, sys
from pathlib import Path
w = Path(sys.argv[1])
reports = {p.name: json.loads((p / "evaluation.json").read_text())["binary_classification_metrics"] for p in sorted(w.glob("eval-*"))}
first = next(iter(reports.values()))
for name, report in reports.items():
    print(f"  {name:22} accuracy {report['accuracy']['value']:.6f} auc {report['auc']['value']:.6f}")
if any(report != first for report in reports.values()):
    sys.exit("container-parity: FAILED, the evaluation reports differ between environments")
sys.path.insert(0, "ml")
import inference, smoke  # noqa: E401 - the serving container's way of importing the handler module
model = inference.model_fn(str(w / "model-LOCAL"))
body, _ = inference.output_fn(inference.predict_fn(inference.input_fn(smoke.smoke_request_body(), "application/json"), model), "application/json")
result = smoke.check_response(200, body.encode(), 0.0, 1000.0)
print(f"  smoke test of the locally trained model served by Python 3.9 handlers: {'passed' if result.passed else 'FAILED'}")
sys.exit(0 if result.passed else 1)
PY
echo "container-parity: passed (4 evaluation reports identical, handlers serve on Python 3.9)"
