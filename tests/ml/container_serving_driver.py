"""Requests through the SageMaker scikit-learn 1.2-1 container's own serving stack, on its Python 3.9 libraries.

Run by tests/ml/test_container_serving.py with .venv-container's Python (never collected by pytest: it needs
sagemaker-containers, Flask 1.1.1, Werkzeug 0.15.6):

    python container_serving_driver.py CODE_DIR CASES_JSON

with SAGEMAKER_BASE_DIR set so that <base>/model holds the model, as in the container. It imports the serving
entry module from CODE_DIR by name, builds the container's Transformer from the module's handlers the way
serving.py does (getattr of model_fn, input_fn, predict_fn, output_fn), wraps it in the container's Flask Worker and
sends every case with the Worker's test client. For contrast the same cases also go through ml/inference.py's
plain handlers, which raise on a malformed payload. Prints one JSON object: {"entry": {...}, "plain": {...}},
each mapping a case id to {"status", "content_type", "body"}.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys


def client_for(module):
    from sagemaker_containers.beta.framework import transformer, worker

    handlers = transformer.Transformer(
        model_fn=module.model_fn,
        input_fn=module.input_fn,
        predict_fn=module.predict_fn,
        output_fn=module.output_fn,
    )
    handlers.initialize()  # model_fn(<SAGEMAKER_BASE_DIR>/model), as each gunicorn worker does
    return worker.Worker(transform_fn=handlers.transform, module_name=module.__name__).test_client()


def send(client, case):
    body = base64.b64decode(case["body_b64"]) if "body_b64" in case else b"x" * case.get("body_size", 0)
    response = client.open(case["path"], method=case["method"], data=body, headers=case["headers"])
    return {
        "status": response.status_code,
        "content_type": response.headers.get("Content-Type"),
        "body": response.get_data(as_text=True),
    }


def main(code_dir, cases_file):
    sys.path.insert(0, code_dir)
    entry = importlib.import_module(os.environ["SAGEMAKER_PROGRAM"][: -len(".py")])
    plain = importlib.import_module("ml.inference")
    with open(cases_file, encoding="utf-8") as stream:
        cases = json.load(stream)
    replies = {}
    for name, module in (("entry", entry), ("plain", plain)):
        client = client_for(module)
        replies[name] = {case["id"]: send(client, case) for case in cases}
    print(json.dumps(replies))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
