"""Serving entry module at the root of the code bundle (SAGEMAKER_PROGRAM=serving_entry.py).

The SageMaker scikit-learn serving container imports SAGEMAKER_PROGRAM by module name after stripping ".py", so a
path such as "ml/inference.py" cannot be imported; this top-level module re-exports the handlers of ml/inference.py.
The container may pip-install this module into site-packages, so the bundle folder is put on sys.path explicitly.
Runs on the container's Python 3.9. Not imported by the CDK app.
"""

import os
import sys

# Where this file lies (the unpacked bundle) or, once pip-installed, where the container unpacked the bundle.
_CANDIDATES = (os.path.dirname(os.path.abspath(__file__)), "/opt/ml/code")
for _folder in _CANDIDATES:
    if os.path.isfile(os.path.join(_folder, "ml", "__init__.py")) and _folder not in sys.path:
        sys.path.insert(0, _folder)
        break

from ml.inference import input_fn, model_fn, output_fn, predict_fn  # noqa: E402

__all__ = ["input_fn", "model_fn", "output_fn", "predict_fn"]
