"""make mlflow-backup / mlflow-restore / mlflow-gc on a real local MLflow store (SQLite + artifacts in a temp folder).

The round trip is compared through the MLflow client, not by file bytes; every corrupt or partial archive is refused
with a clear error, leaves no half-restored folder and does not touch an existing store.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import shutil
import sqlite3
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from config import load_environment
from ml.local import registry, store_backup, store_ops
from ml.local.store import LocalStore

from .mlflow_store import build_store, describe

DAY_MS = 24 * 60 * 60 * 1000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStore, dict[str, str]]:
    """A filled store, made once for the module (about 3 s)."""
    root = tmp_path_factory.mktemp("source") / "mlflow"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        ids = build_store(tmp_path_factory.mktemp("work"))
    return LocalStore(root), ids


@pytest.fixture(scope="module")
def archive(source: tuple[LocalStore, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    store, _ = source
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        destination = tmp_path_factory.mktemp("backups")
        assert store_ops.main(["backup", "--dest", str(destination)]) == 0
    [written] = destination.glob("mlflow-backup-*.tar.gz")
    return written


def copy_of(archive: Path, folder: Path) -> LocalStore:
    """A store of its own restored from the module's archive (a file copy would still write into the source's
    artifact folder: the database records absolute artifact locations)."""
    store_backup.restore(archive, LocalStore(folder), say=lambda line: None)
    return LocalStore(folder)


def use(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    return registry.client()


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


# ---------------------------------------------------------------------------------------------- backup
def test_backup_writes_one_archive_with_a_manifest_of_every_file(archive: Path, source, capsys) -> None:
    store, _ = source
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
        database = tar.extractfile("mlflow.db").read()
    assert names[-1] == "manifest.json" and names[0] == "mlflow.db"
    assert manifest["mlflow_version"] == importlib.metadata.version("mlflow")
    assert len(manifest["schema_revision"]) >= 12
    assert manifest["artifact_root_uri"] == store.artifact_root_uri
    artifact_files = {
        f"artifacts/{p.relative_to(store.artifacts).as_posix()}" for p in store.artifacts.rglob("*") if p.is_file()
    }
    assert set(manifest["files"]) == {"mlflow.db"} | artifact_files
    assert manifest["files"]["mlflow.db"]["sha256"] == hashlib.sha256(database).hexdigest()
    assert manifest["contents"]["model_versions"] == 2 and manifest["contents"]["registered_model_aliases"] == 2
    assert list(archive.parent.iterdir()) == [archive]  # no staging folder or .partial file left behind


def test_backup_refuses_a_missing_store_and_a_tracking_server(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}")
    assert store_ops.main(["backup", "--dest", str(tmp_path / "out")]) == 1
    assert "no local MLflow store" in capsys.readouterr().err
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-abc")
    assert store_ops.main(["backup"]) == 1
    assert "is not a local SQLite store" in capsys.readouterr().err


def test_backup_refuses_a_symbolic_link_among_the_artifacts_and_writes_nothing(archive, tmp_path, capsys) -> None:
    store = copy_of(archive, tmp_path / "store")
    (store.artifacts / "link").symlink_to("/etc/hostname")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        assert store_ops.main(["backup", "--dest", str(tmp_path / "out")]) == 1
    assert "is a symbolic link: the backup copies regular files only" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []


# ---------------------------------------------------------------------------------------------- restore
def test_restore_into_another_folder_holds_exactly_what_the_store_held(archive, source, tmp_path, monkeypatch, capsys):
    store, ids = source
    expected = describe(use(store, monkeypatch), store.artifact_root_uri)
    target = LocalStore(tmp_path / "restored")
    assert store_ops.main(["restore", str(archive), "--into", str(target.root)]) == 0
    output = capsys.readouterr().out
    assert "every sha256 verified" in output and f"MLFLOW_TRACKING_URI=sqlite:///{target.database}" in output
    restored = describe(use(target, monkeypatch), target.artifact_root_uri)
    assert restored == expected
    assert restored["models"][registry.MODEL_NAME]["aliases"] == {
        "approved": int(ids["v1"]),
        "champion": int(ids["v1"]),
    }
    assert [m[0] for m in restored["runs"][ids["history_run"]]["metrics"]["loss"]] == [0, 1, 2, 3, 4]
    assert restored["runs"][ids["deleted_run"]]["stage"] == "deleted"


def test_a_restored_store_works_on_its_own_after_the_original_is_gone(archive, source, tmp_path, monkeypatch):
    _, ids = source
    original = copy_of(archive, tmp_path / "original")  # the module's source store stays for the other tests
    monkeypatch.setenv("MLFLOW_TRACKING_URI", original.uri)
    archive_of_copy = store_backup.backup(original, tmp_path / "backups", say=lambda line: None).archive
    shutil.rmtree(original.root)
    assert store_ops.main(["restore", str(archive_of_copy)]) == 0  # the lost store's own place: no locations move
    client = use(original, monkeypatch)
    version = registry.get_version(ids["v1"])
    assert (registry.model_path(version) / "model.joblib").read_bytes() == bytes(range(256)) * 40
    assert str(client.get_model_version_by_alias(registry.MODEL_NAME, "champion").version) == ids["v1"]
    moved = LocalStore(tmp_path / "moved")
    assert store_ops.main(["restore", str(archive_of_copy), "--into", str(moved.root)]) == 0
    shutil.rmtree(original.root)  # the moved copy must not depend on the folder it came from
    use(moved, monkeypatch)
    assert (
        registry.model_path(registry.get_version(ids["v2"])) / "nested" / "metadata.json"
    ).read_text() == '{"seed": 2}'


def test_restore_refuses_a_store_that_is_not_empty_and_leaves_it_untouched(archive, source, capsys) -> None:
    store, _ = source
    before = fingerprint(store.root)
    assert store_ops.main(["restore", str(archive), "--into", str(store.root)]) == 1
    assert "is not empty: restore never overwrites a store" in capsys.readouterr().err
    assert fingerprint(store.root) == before


def rewrite(archive: Path, out: Path, change: Callable[[list[tuple[tarfile.TarInfo, bytes]]], None]) -> Path:
    """A copy of `archive` whose members `change` edits in place (a list of (member, content))."""
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]
    change(members)
    with tarfile.open(out, "w:gz") as tar:
        for member, content in members:
            member.size = len(content) if member.isfile() else 0
            tar.addfile(member, io.BytesIO(content) if member.isfile() else None)
    return out


def _member(name: str, content: bytes = b"x", kind: bytes = tarfile.REGTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info, content


def _flip_artifact(members):
    index = next(i for i, (m, _) in enumerate(members) if m.name.endswith("model.joblib"))
    member, content = members[index]
    members[index] = (member, bytes([content[0] ^ 0xFF]) + content[1:])


def _manifest_edit(edit):
    def change(members):
        index = next(i for i, (m, _) in enumerate(members) if m.name == "manifest.json")
        manifest = json.loads(members[index][1])
        edit(members, manifest)
        members[index] = (members[index][0], json.dumps(manifest).encode())

    return change


def _garbage_database(members, manifest):
    index = next(i for i, (m, _) in enumerate(members) if m.name == "mlflow.db")
    garbage = b"not a database " * 100
    members[index] = (members[index][0], garbage)
    manifest["files"]["mlflow.db"] = {"sha256": hashlib.sha256(garbage).hexdigest(), "bytes": len(garbage)}


def _other_schema(tmp: Path):
    def edit(members, manifest):
        index = next(i for i, (m, _) in enumerate(members) if m.name == "mlflow.db")
        database = tmp / "old.db"
        database.write_bytes(members[index][1])
        with sqlite3.connect(database) as connection:
            connection.execute("UPDATE alembic_version SET version_num = 'a8c4a736bde6'")
        content = database.read_bytes()
        members[index] = (members[index][0], content)
        manifest["files"]["mlflow.db"] = {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
        manifest["schema_revision"], manifest["mlflow_version"] = "a8c4a736bde6", "2.16.2"

    return edit


CORRUPTIONS = {
    "truncated": (None, "is truncated or corrupt"),
    "a file whose hash differs": (_flip_artifact, "differs from the manifest's"),
    "no manifest": (lambda m: m.pop(next(i for i, (x, _) in enumerate(m) if x.name == "manifest.json")), "no manifest"),
    "a listed file missing": (
        lambda m: m.pop(next(i for i, (x, _) in enumerate(m) if x.name.endswith("metadata.json"))),
        "partial archive",
    ),
    "a file not in the manifest": (lambda m: m.insert(1, _member("artifacts/extra.txt")), "is not in the manifest"),
    "path traversal": (lambda m: m.insert(1, _member("../escaped.txt")), "unsafe member name '../escaped.txt'"),
    "absolute path": (lambda m: m.insert(1, _member("/escaped.txt")), "unsafe member name"),
    "symbolic link": (lambda m: m.insert(1, _member("artifacts/link", b"", tarfile.SYMTYPE)), "is a link"),
    "foreign file": (lambda m: m.insert(1, _member("etc/cron.d/job")), "unexpected member"),
    "manifest not JSON": (
        lambda m: m.__setitem__(-1, (m[-1][0], b"{not json")),
        "manifest.json is not valid JSON",
    ),
    "database not SQLite (hash matches)": (_manifest_edit(_garbage_database), "not a usable SQLite database"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_or_partial_archive_is_refused_and_nothing_is_touched(archive, source, tmp_path, capsys, corruption):
    store, _ = source
    change, message = CORRUPTIONS[corruption]
    bad = tmp_path / "bad.tar.gz"
    if change is None:
        bad.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    else:
        rewrite(archive, bad, change)
    existing = fingerprint(store.root)
    target = tmp_path / "stores" / "mlflow"
    assert store_ops.main(["restore", str(bad), "--into", str(target)]) == 1
    error = capsys.readouterr().err
    assert message in error, error
    assert not target.exists() and list((tmp_path / "stores").iterdir()) == []  # no half-restored folder
    assert not (tmp_path / "escaped.txt").exists()
    assert fingerprint(store.root) == existing


def test_an_archive_from_another_mlflow_schema_is_refused_with_what_to_do(archive, tmp_path, capsys) -> None:
    bad = rewrite(archive, tmp_path / "old.tar.gz", _manifest_edit(_other_schema(tmp_path)))
    assert store_ops.main(["restore", str(bad), "--into", str(tmp_path / "store")]) == 1
    error = capsys.readouterr().err
    assert "holds MLflow schema a8c4a736bde6 (written by MLflow 2.16.2)" in error
    assert "restore it where MLflow 2.16.2 is installed" in error
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------------------------------------- gc
def _deleted_days_ago(store: LocalStore, run_id: str, days: float) -> None:
    with sqlite3.connect(store.database) as connection:  # MLflow records deletion time; the test sets it
        connection.execute(
            "UPDATE runs SET deleted_time = ? WHERE run_uuid = ?", (int(time.time() * 1000 - days * DAY_MS), run_id)
        )


def test_gc_removes_runs_deleted_longer_ago_than_the_retention_and_keeps_recent_ones(
    archive, tmp_path, monkeypatch, capsys
) -> None:
    copy = copy_of(archive, tmp_path / "gc")
    client = use(copy, monkeypatch)
    experiment = client.get_experiment_by_name("exp_titanic-sagemaker_19990101")
    old, recent = (client.create_run(experiment.experiment_id, run_name=name) for name in ("run_old_1", "run_recent_2"))
    for run in (old, recent):
        client.log_text(run.info.run_id, "payload", "file.txt")
        client.delete_run(run.info.run_id)
    retention = load_environment("dev").mlflow.deleted_run_retention_days
    _deleted_days_ago(copy, old.info.run_id, retention + 1)
    _deleted_days_ago(copy, recent.info.run_id, retention - 1)
    assert store_ops.main(["gc", "--env", "dev"]) == 0  # DAYS not given: dev's mlflow.deleted_run_retention_days
    output = capsys.readouterr().out
    assert f"Run with ID {old.info.run_id} has been permanently deleted." in output  # MLflow's own gc
    removed, kept = output.split("kept (deleted within the last")
    assert old.info.run_id in removed and "removed: 1 run(s), 1 artifact files" in removed
    assert recent.info.run_id in kept
    with pytest.raises(Exception, match="not found"):
        client.get_run(old.info.run_id)
    assert not (copy.artifacts / old.info.run_id).exists()
    assert client.get_run(recent.info.run_id).info.lifecycle_stage == "deleted"
    assert (copy.artifacts / recent.info.run_id / "artifacts" / "file.txt").is_file()
    assert store_ops.main(["gc", "--days", "0"]) == 0  # DAYS=0: every deleted run goes
    assert recent.info.run_id in capsys.readouterr().out.split("kept (")[0]
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'next.db'}")
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'next.db'}"  # gc left MLflow's global setting alone


def test_gc_refuses_to_remove_a_deleted_run_that_backs_a_model_version(
    archive, source, tmp_path, monkeypatch, capsys
) -> None:
    _, ids = source
    copy = copy_of(archive, tmp_path / "gc")
    client = use(copy, monkeypatch)
    client.delete_run(ids["run2"])
    _deleted_days_ago(copy, ids["run2"], 400)
    before = fingerprint(copy.root)
    assert store_ops.main(["gc", "--days", "30"]) == 1
    error = capsys.readouterr().err
    assert "refused: deleted runs still back registered model versions" in error
    assert f"{ids['run2']} ({registry.MODEL_NAME} v{ids['v2']})" in error
    assert fingerprint(copy.root) == before


def test_gc_days_must_not_be_negative(source, monkeypatch, capsys) -> None:
    use(source[0], monkeypatch)
    assert store_ops.main(["gc", "--days", "-1"]) == 1
    assert "DAYS must be 0 or more" in capsys.readouterr().err
