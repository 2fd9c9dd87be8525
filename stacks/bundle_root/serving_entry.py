"""Serving entry module at the root of the code bundle (SAGEMAKER_PROGRAM=serving_entry.py).

The SageMaker scikit-learn serving container imports SAGEMAKER_PROGRAM by module name after stripping ".py", so a
path such as "ml/inference.py" cannot be imported; this top-level module hands the requests to ml/inference.py.
The container may pip-install this module into site-packages, so the bundle folder is put on sys.path explicitly.
Runs on the container's Python 3.9. Not imported by the CDK app.

Why three pass-through hooks instead of ml/inference.py's input_fn/predict_fn/output_fn: the container's
serving stack (sagemaker-containers 2.8.6.post2 Transformer) wraps every exception of a user hook in ClientError,
which Flask answers with 500, so a malformed request would count as an Invocation5XXError (and roll a prod
rollout back). Only a returned response object keeps its status. So input_fn and predict_fn carry the request
through unchanged and output_fn answers it with ml.inference.transform, the function the local server calls,
returning the container's Response with transform's status (4xx for client mistakes).
Why no transform_fn: serving.py of the v1.2-1 tag reads only model_fn/input_fn/predict_fn/output_fn, and the
1.2-1 branch the image is rebuilt from refuses a transform_fn beside any of them; these hooks work with both.
"""

import os
import sys

# Where this file lies (the unpacked bundle) or, once pip-installed, where the container unpacked the bundle.
_CANDIDATES = (os.path.dirname(os.path.abspath(__file__)), "/opt/ml/code")
for _folder in _CANDIDATES:
    if os.path.isfile(os.path.join(_folder, "ml", "__init__.py")) and _folder not in sys.path:
        sys.path.insert(0, _folder)
        break

from ml.inference import model_fn, transform  # noqa: E402

__all__ = ["input_fn", "model_fn", "output_fn", "predict_fn"]


def input_fn(request_body, request_content_type):
    """The request as the container read it (text for JSON and CSV, bytes otherwise), not parsed yet."""
    return request_body, request_content_type


def predict_fn(request, model):
    return request[0], request[1], model


def output_fn(prepared, accept):
    """The container's Response with ml.inference.transform's status, body and exact content type."""
    from sagemaker_containers.beta.framework import worker  # only inside the serving container

    body, content_type, model = prepared
    reply = transform(model, body, content_type, accept)
    return worker.Response(response=reply.body, status=reply.status, headers={"Content-Type": reply.content_type})
