"""make mlflow-ui: the MLflow UI command for the local store, on loopback only (the UI itself is not started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.local import mlflow_ui


def test_the_ui_serves_the_local_store_and_its_artifacts_on_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    argv = mlflow_ui.command(5123)
    options = dict(zip(argv[4::2], argv[5::2]))
    assert argv[1:4] == ["-m", "mlflow", "ui"]
    assert options["--backend-store-uri"] == options["--registry-store-uri"] == uri
    assert options["--default-artifact-root"] == (tmp_path / "artifacts").as_uri()  # where make run logs them
    assert (options["--host"], options["--port"], options["--workers"]) == ("127.0.0.1", "5123", "1")
