"""The deterministic code bundle (constructs/code_bundle.py) and the serving entry module it ships."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from constructs.code_bundle import FIXED_MTIME, build_tarball, collect, write_tarball
from stacks.training import SERVING_ENTRY_SOURCE


def _package(root: Path) -> dict[str, Path]:
    (root / "ml" / "local").mkdir(parents=True)
    (root / "ml" / "__pycache__").mkdir()
    (root / "ml" / "__init__.py").write_text("")
    (root / "ml" / "inference.py").write_text(
        "def model_fn(model_dir):\n    return 'model:' + model_dir\n\n\n"
        "def input_fn(body, content_type):\n    return body\n\n\n"
        "def predict_fn(data, model):\n    return [model, data]\n\n\n"
        "def output_fn(prediction, accept):\n    return str(prediction)\n\n\n"
        "def transform(model, body, content_type, accept):\n    return [model, body, content_type, accept]\n"
    )
    (root / "ml" / "local" / "runner.py").write_text("raise SystemExit('never shipped')\n")
    (root / "ml" / "__pycache__" / "x.cpython-39.pyc").write_bytes(b"\0")
    files = collect(root, "ml", exclude=("local",))
    files["serving_entry.py"] = SERVING_ENTRY_SOURCE
    return files


def test_collect_keeps_the_package_folder_and_skips_excluded_and_cache(tmp_path):
    assert sorted(_package(tmp_path)) == ["ml/__init__.py", "ml/inference.py", "serving_entry.py"]


def test_same_files_give_the_same_bytes_whatever_their_mtime(tmp_path):
    files = _package(tmp_path)
    first = build_tarball(files)
    for path in files.values():
        if tmp_path in path.parents:
            os.utime(path, (1, 1))
    assert build_tarball(files) == first
    assert write_tarball(files, tmp_path / "out") == write_tarball(files, tmp_path / "out")


def test_entries_are_sorted_with_fixed_metadata(tmp_path):
    data = build_tarball(_package(tmp_path))
    assert data[4:8] == b"\0\0\0\0"  # gzip header without a timestamp
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.mode) for m in members} == {(FIXED_MTIME, 0, 0, 0o644)}


def test_a_content_change_changes_the_bundle(tmp_path):
    files = _package(tmp_path)
    before = build_tarball(files)
    (tmp_path / "ml" / "inference.py").write_text("# changed\n")
    assert build_tarball(files) != before


def test_serving_entry_hands_requests_to_ml_inference_from_an_unpacked_bundle(tmp_path):
    """As the serving container does: unpack the bundle, import SAGEMAKER_PROGRAM's module from another folder.
    Its input_fn and predict_fn carry the request to output_fn (tests/ml/test_container_serving.py runs output_fn
    in the container's stack)."""
    bundle = tmp_path / "code"
    with tarfile.open(fileobj=io.BytesIO(build_tarball(_package(tmp_path / "src"))), mode="r:gz") as tar:
        tar.extractall(bundle, filter="data")
    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('serving_entry', {str(bundle / 'serving_entry.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(module.predict_fn(module.input_fn('row', 'text/csv'), module.model_fn('/opt/ml/model')))\n"
        "print(module.transform('m', 'row', 'text/csv', '*/*'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    assert result.stdout.splitlines() == [
        "('row', 'text/csv', 'model:/opt/ml/model')",
        "['m', 'row', 'text/csv', '*/*']",
    ]
