#!/usr/bin/env bash
# Create .venv-container: Python 3.9 with the SageMaker scikit-learn 1.2-1 container's libraries, ML and serving
# stack (scripts/container-requirements.txt). Idempotent: does nothing when the venv is newer than that file.
# Used by make test (tests/ml/test_container_serving.py) and make container-parity.
# Needs a Python 3.9: PY39=..., else pyenv's 3.9.18, else python3.9 on PATH; and uv (UV=..., else .venv-uv/bin/uv,
# which `make container-venv` creates first).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-container
REQUIREMENTS=scripts/container-requirements.txt
if [ -f "$VENV/.installed" ] && [ ! "$REQUIREMENTS" -nt "$VENV/.installed" ]; then exit 0; fi
PYENV_39="${PYENV_ROOT:-$HOME/.pyenv}/versions/3.9.18/bin/python"
if [ -z "${PY39:-}" ]; then
  if [ -x "$PYENV_39" ]; then PY39=$PYENV_39; else PY39=$(command -v python3.9 || true); fi
fi
UV=${UV:-.venv-uv/bin/uv}
if [ ! -x "$UV" ]; then
  echo "container-venv: no uv at $UV (make container-venv creates .venv-uv first, or set UV=/path/to/uv)" >&2
  exit 1
fi
if [ -z "$PY39" ] || ! "$PY39" -c "import sys; assert sys.version_info[:2] == (3, 9)" 2>/dev/null; then
  echo "container-venv: no Python 3.9 found (set PY39=/path/to/python3.9)" >&2
  exit 1
fi
echo ">> creating $VENV: Python 3.9 with the SageMaker scikit-learn 1.2-1 container's libraries (first run: ~20 s)"
start=$(date +%s)
rm -rf "$VENV"
"$PY39" -m venv "$VENV"
# Every line is pinned: uv takes the wheel of that version where one exists (sagemaker-containers, psutil 5.7.2,
# retrying and inotify-simple only ship sources, which it builds).
"$UV" pip install --quiet --python "$VENV/bin/python" -r "$REQUIREMENTS"
touch "$VENV/.installed"
echo ">> $VENV ready in $(( $(date +%s) - start )) s"
