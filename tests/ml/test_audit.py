"""The approval history in MLflow: every approve/reject is an audit run (who, what, when), `make models` prints it."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import pytest

from ml.local import audit, registry

from .mlflow_store import build_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """build_store approves v1 and rejects v2 through registry.set_approval, the path of make approve/reject."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        ids = build_store(tmp_path_factory.mktemp("work"))
    return uri, ids


@pytest.fixture(autouse=True)
def isolated_registry(store: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store[0])


def test_each_approval_change_is_one_audit_run_with_who_what_when(store) -> None:
    _, ids = store
    changes = audit.history(registry.client(), registry.MODEL_NAME)
    [approved] = changes[ids["v1"]]
    [rejected] = changes[ids["v2"]]
    assert (approved.action, approved.from_status, approved.to_status) == (
        "approve",
        registry.PENDING,
        registry.APPROVED,
    )
    assert (rejected.action, rejected.from_status, rejected.to_status) == (
        "reject",
        registry.PENDING,
        registry.REJECTED,
    )
    assert approved.actor == rejected.actor == getpass.getuser()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", approved.changed_at)
    assert approved.changed_at <= rejected.changed_at


def test_audit_runs_follow_the_seed_004_conventions_and_their_facts_are_write_once(store) -> None:
    from mlflow.exceptions import MlflowException

    _, ids = store
    client = registry.client()
    experiment = client.get_experiment_by_name(audit.AUDIT_EXPERIMENT)
    [run] = client.search_runs([experiment.experiment_id], filter_string=f"params.version = '{ids['v1']}'")
    assert run.info.run_name == f"run_approve_v{ids['v1']}" and run.info.status == "FINISHED"
    tags = run.data.tags
    assert (tags["purpose"], tags["env"], tags["owner"]) == ("registry-audit", "dev", "ml-team")
    assert tags["dataset"] == "titanic.csv@sha256:000000000001"  # copied from the version's training run
    assert tags["mlflow.user"] == getpass.getuser() and run.info.user_id == getpass.getuser()
    with pytest.raises(MlflowException, match="Changing param values is not allowed"):
        client.log_param(run.info.run_id, "to_status", registry.REJECTED)


def test_approve_then_reject_appends_to_the_history_and_make_models_prints_it(store, capsys) -> None:
    _, ids = store
    assert registry.main(["reject", "--version", ids["v1"]]) == 0
    assert registry.main(["approve", "--version", ids["v1"]]) == 0
    capsys.readouterr()
    assert registry.main(["list"]) == 0
    output = capsys.readouterr().out
    block = output.split(f"{registry.MODEL_NAME} v{ids['v2']} ")[0]
    lines = [line.strip() for line in block.splitlines()]
    assert lines[0].startswith(f"{registry.MODEL_NAME} v{ids['v1']}  Approved")
    assert lines[1].endswith("registered (PendingManualApproval)")
    user = getpass.getuser()
    assert [line.split("  ", 1)[1] for line in lines[2:]] == [
        f"approve by {user}: PendingManualApproval -> Approved",
        f"reject by {user}: Approved -> Rejected",
        f"approve by {user}: Rejected -> Approved",
    ]
    assert f"reject by {user}: PendingManualApproval -> Rejected" in output.split(f"v{ids['v2']} ")[1]


def test_the_history_travels_with_a_backup(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ml.local import store_backup
    from ml.local.store import LocalStore, current

    before = audit.history(registry.client(), registry.MODEL_NAME)
    archive = store_backup.backup(current(), tmp_path / "backups", say=lambda line: None).archive
    target = LocalStore(tmp_path / "restored")
    store_backup.restore(archive, target, say=lambda line: None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", target.uri)
    assert audit.history(registry.client(), registry.MODEL_NAME) == before


def test_a_model_without_an_audit_experiment_has_no_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert audit.history(registry.client(), registry.MODEL_NAME) == {}
