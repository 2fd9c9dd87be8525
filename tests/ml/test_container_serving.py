"""Client mistakes get 4xx inside the SageMaker scikit-learn 1.2-1 container's real serving stack, and the local
server answers every request exactly as that stack does.

The stack (sagemaker-containers 2.8.6.post2's Transformer and Flask Worker, Flask 1.1.1, Werkzeug 0.15.6) runs in
.venv-container, Python 3.9 with the container's libraries, created on first use by scripts/container_venv.sh
(make test does it first). tests/ml/container_serving_driver.py sends the cases there; this module sends the same
cases to the local server over loopback HTTP and compares.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from constructs.code_bundle import collect
from ml import inference
from ml.local import server
from stacks.training import BUNDLE_EXCLUDED_FOLDERS, SERVING_ENTRY_MODULE, SERVING_ENTRY_SOURCE

from .conftest import REPO
from .payloads import CSV, GOOD, JSON, MALFORMED, body, csv_line

CONTAINER_PYTHON = REPO / ".venv-container" / "bin" / "python"
DRIVER = Path(__file__).with_name("container_serving_driver.py")
OVERSIZED = inference.MAX_BODY_BYTES + 1


def _case(case_id: str, data: bytes, headers: dict[str, str]) -> dict:
    return {
        "id": case_id,
        "method": "POST",
        "path": "/invocations",
        "headers": headers,
        "body_b64": base64.b64encode(data).decode(),
    }


CASES = [
    _case(case_id, data, {"Content-Type": content_type} if content_type else {})
    for case_id, content_type, data, _, _ in MALFORMED
] + [
    _case("good-json", body(GOOD), {"Content-Type": JSON}),
    _case("good-csv", "\n".join(csv_line(p) for p in GOOD).encode(), {"Content-Type": CSV, "Accept": CSV}),
    _case("no-content-type-is-json", body(GOOD), {}),
    _case("accept-any", body(GOOD), {"Content-Type": JSON, "Accept": "*/*"}),
    _case("accept-unsupported", body(GOOD), {"Content-Type": JSON, "Accept": "image/png"}),
    _case("aws-contenttype-header", "\n".join(csv_line(p) for p in GOOD).encode(), {"ContentType": CSV}),
    {
        "id": "oversized",
        "method": "POST",
        "path": "/invocations",
        "headers": {"Content-Type": JSON},
        "body_size": OVERSIZED,
    },
]
EXPECTED_STATUS = {case_id: status for case_id, _, _, status, _ in MALFORMED} | {
    "good-json": 200,
    "good-csv": 200,
    "no-content-type-is-json": 200,
    "accept-any": 200,
    "accept-unsupported": 406,
    "aws-contenttype-header": 200,
    "oversized": 413,
}
# Werkzeug decodes JSON and CSV bodies with errors="replace" before the handlers see them: an undecodable body is
# a JSON syntax error there (still 400), where the local server names the byte. The one known difference.
MESSAGE_DIFFERS = {"not-utf8"}


@pytest.fixture(scope="module")
def container_python() -> Path:
    subprocess.run([str(REPO / "scripts" / "container_venv.sh")], check=True, timeout=1800)
    return CONTAINER_PYTHON


@pytest.fixture(scope="module")
def container(container_python: Path, pipeline: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case through the container's stack: {"entry": replies, "plain": replies} (see the driver)."""
    work = tmp_path_factory.mktemp("container")
    code = work / "code"  # the code bundle as the training stack packs it
    files = collect(REPO, "ml", exclude=BUNDLE_EXCLUDED_FOLDERS)
    files[SERVING_ENTRY_MODULE] = SERVING_ENTRY_SOURCE
    for name, source in files.items():
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, code / name)
    shutil.copytree(pipeline["model"], work / "base" / "model")  # SAGEMAKER_BASE_DIR/model, as in the container
    (work / "cases.json").write_text(json.dumps(CASES))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SAGEMAKER_BASE_DIR": str(work / "base"),
        "SAGEMAKER_PROGRAM": SERVING_ENTRY_MODULE,
    }
    done = subprocess.run(
        [str(container_python), str(DRIVER), str(code), str(work / "cases.json")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def local_server(model: inference.Model) -> Iterator[server.ModelServer]:
    instance, thread = server.start_in_thread(model)
    yield instance
    instance.shutdown()
    instance.server_close()
    thread.join(timeout=5)


def local_reply(running: server.ModelServer, case: dict) -> dict:
    data = base64.b64decode(case["body_b64"]) if "body_b64" in case else b"x" * case["body_size"]
    connection = http.client.HTTPConnection("127.0.0.1", running.server_address[1], timeout=30)
    try:
        connection.request(case["method"], case["path"], data, case["headers"])
        response = connection.getresponse()
        return {
            "status": response.status,
            "content_type": response.getheader("Content-Type"),
            "body": response.read().decode(),
        }
    finally:
        connection.close()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_container_answers_each_request_with_its_status_and_a_json_error(container: dict, case: dict) -> None:
    reply = container["entry"][case["id"]]
    assert reply["status"] == EXPECTED_STATUS[case["id"]], reply
    if reply["status"] >= 400:
        assert reply["content_type"] == JSON
        assert set(json.loads(reply["body"])) == {"error"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_local_server_answers_exactly_like_the_container(
    container: dict, local_server: server.ModelServer, case: dict
) -> None:
    expected, got = container["entry"][case["id"]], local_reply(local_server, case)
    if case["id"] in MESSAGE_DIFFERS:
        expected, got = {**expected, "body": None}, {**got, "body": None}
    assert got == expected


def test_the_container_predicts_what_the_handlers_predict_in_process(container: dict, model: inference.Model) -> None:
    reply = container["entry"]["good-json"]
    assert json.loads(reply["body"]) == json.loads(inference.transform(model, body(GOOD), JSON, JSON).body)


def test_raising_handlers_would_be_500_there(container: dict) -> None:
    """Why the entry module does not simply re-export ml/inference.py's handlers: their PayloadError becomes 500."""
    malformed = [case_id for case_id, *_ in MALFORMED]
    assert {container["plain"][case_id]["status"] for case_id in malformed} == {500}
    assert container["plain"]["good-json"]["status"] == 200


def test_the_entry_module_defines_no_transform_fn() -> None:
    """The 1.2-1 branch's serving.py refuses transform_fn beside input_fn/predict_fn/output_fn; the v1.2-1 tag's
    ignores it. The entry module must work with both."""
    spec = importlib.util.spec_from_file_location("serving_entry", SERVING_ENTRY_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not hasattr(module, "transform_fn")
    assert all(callable(getattr(module, name)) for name in ("model_fn", "input_fn", "predict_fn", "output_fn"))
