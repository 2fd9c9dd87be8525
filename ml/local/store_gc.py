"""Garbage collection of the local MLflow store with MLflow's own `mlflow gc`, and a report of what it removed.

Deleting a run in MLflow (UI, `MlflowClient.delete_run`) only marks it `deleted` and records `deleted_time`; its
metadata and artifacts stay until `mlflow gc` removes them for good. This module runs exactly that command against the
local store (backend store = the SQLite file, artifacts = the file:// locations the runs record) for runs deleted more
than N days ago, after one safety check MLflow does not make: a deleted run that still backs a registered model
version is not collected (the version would point at removed files), the whole gc is refused with the list instead.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ml.local.store import LocalStore, Say, StoreError, human_bytes

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class DeletedRun:
    run_id: str
    name: str
    experiment: str
    deleted_days_ago: float
    artifact_dir: Path | None  # the run's local artifact folder, None when not on this disk
    files: int
    bytes: int


@dataclass(frozen=True)
class Collected:
    removed: list[DeletedRun]
    kept: list[DeletedRun]  # deleted, but more recently than the retention


def collect(store: LocalStore, days: float, *, say: Say = print) -> Collected:
    """Run `mlflow gc --older-than <days>d` on the store; which deleted runs it removed and which it kept."""
    if days < 0:
        raise StoreError(f"DAYS must be 0 or more (got {days:g})")
    if not store.database.is_file():
        raise StoreError(f"no local MLflow store at {store.root} (no {store.database.name}): nothing to collect")
    before = _deleted_runs(store)
    due = [run for run in before if run.deleted_days_ago >= days]
    protected = _backing_model_versions(store, [run.run_id for run in due])
    if protected:
        listed = ", ".join(f"{run_id} ({versions})" for run_id, versions in sorted(protected.items()))
        raise StoreError(
            f"refused: deleted runs still back registered model versions: {listed}. Delete those model versions "
            "(or restore the runs) first; nothing was removed"
        )
    say(f"{len(due)} of {len(before)} deleted runs were deleted more than {days:g} days ago; running mlflow gc")
    _mlflow_gc(store, days)
    remaining = _run_ids(store)
    removed = [run for run in before if run.run_id not in remaining]
    for run in removed:  # MLflow removes <run>/artifacts; the empty run folder it leaves is removed too
        if run.artifact_dir and run.artifact_dir.parent.is_dir() and not any(run.artifact_dir.parent.iterdir()):
            run.artifact_dir.parent.rmdir()
    return Collected(removed, [run for run in before if run.run_id in remaining])


def report(collected: Collected, days: float) -> str:
    lines = []
    for title, runs in (
        ("removed", collected.removed),
        (f"kept (deleted within the last {days:g} days)", collected.kept),
    ):
        lines.append(
            f"{title}: {len(runs)} run(s), {sum(r.files for r in runs)} artifact files, "
            f"{human_bytes(sum(r.bytes for r in runs))}"
        )
        for run in runs:
            lines.append(
                f"  {run.run_id}  {run.name:24}  {run.experiment:36}  deleted {run.deleted_days_ago:.1f} days ago  "
                f"{run.files} files, {human_bytes(run.bytes)}"
            )
    return "\n".join(lines)


def _mlflow_gc(store: LocalStore, days: float) -> None:
    # MLflow's own command, in its own process: in this one, `mlflow.cli.gc` would call mlflow.set_tracking_uri with
    # the MLFLOW_TRACKING_URI it read when mlflow.cli was first imported, a process-wide setting that outlives it.
    command = [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", store.uri, "--older-than", f"{days:g}d"]
    environment = {**os.environ, "MLFLOW_TRACKING_URI": store.uri}
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if completed.stdout:
        print(completed.stdout, end="", flush=True)  # MLflow's "Run with ID ... has been permanently deleted."
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        raise StoreError(f"mlflow gc failed (exit {completed.returncode}): {lines[-1] if lines else 'no message'}")


def _deleted_runs(store: LocalStore) -> list[DeletedRun]:
    # Read-only SQL on the local store: deleted_time is recorded by MLflow but not exposed by its client API.
    now = time.time() * 1000
    with closing(sqlite3.connect(f"file:{store.database}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT r.run_uuid, r.name, e.name, r.deleted_time, r.artifact_uri FROM runs r "
            "JOIN experiments e ON e.experiment_id = r.experiment_id "
            "WHERE r.lifecycle_stage = 'deleted' ORDER BY r.deleted_time, r.run_uuid"
        ).fetchall()
    runs = []
    for run_id, name, experiment, deleted_time, artifact_uri in rows:
        folder = _local_folder(artifact_uri)
        files = [p for p in folder.rglob("*") if p.is_file()] if folder and folder.is_dir() else []
        age = (now - deleted_time) / DAY_MS if deleted_time is not None else 0.0
        runs.append(
            DeletedRun(run_id, name or "", experiment, age, folder, len(files), sum(p.stat().st_size for p in files))
        )
    return runs


def _backing_model_versions(store: LocalStore, run_ids: list[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    marks = ", ".join("?" * len(run_ids))
    with closing(sqlite3.connect(f"file:{store.database}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            f"SELECT run_id, name, version FROM model_versions WHERE run_id IN ({marks}) ORDER BY name, version",  # noqa: S608
            run_ids,
        ).fetchall()
    backing: dict[str, list[str]] = {}
    for run_id, name, version in rows:
        backing.setdefault(run_id, []).append(f"{name} v{version}")
    return {run_id: ", ".join(versions) for run_id, versions in backing.items()}


def _run_ids(store: LocalStore) -> set[str]:
    with closing(sqlite3.connect(f"file:{store.database}?mode=ro", uri=True)) as connection:
        return {row[0] for row in connection.execute("SELECT run_uuid FROM runs")}


def _local_folder(uri: str | None) -> Path | None:
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(uri) if not parsed.scheme else None
