"""Backup and restore of the local MLflow store as ONE archive that is verified before anything is touched.

Archive (`mlflow-backup-<UTC time>.tar.gz`): `mlflow.db` (a consistent copy made with SQLite's online backup API, so
a store in use is copied safely), every file under `artifacts/`, and `manifest.json` last, with the sha256 and size
of each file, the MLflow version, the database's schema revision and the artifact root the store had.

Restore extracts into a temporary folder beside the target, checks every member (safe name, regular file, listed in
the manifest, same sha256 and size, nothing missing), checks the database (SQLite integrity, schema revision the
installed MLflow reads), points the artifact locations at the new folder, and only then moves the folder into place.
The target must be empty: an existing store is never overwritten or mixed with another.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from contextlib import closing, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ml.local.store import (
    ARTIFACTS_DIR,
    DATABASE_FILE,
    LocalStore,
    Progress,
    Say,
    StoreError,
    count_rows,
    human_bytes,
    relocate_artifacts,
    schema_revision,
    supported_schema_revision,
)

FORMAT, FORMAT_VERSION = "titanic-sagemaker/mlflow-local-store-backup", 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20


class ArchiveError(StoreError):
    """The archive is corrupt, partial or unsafe; nothing was restored."""


@dataclass(frozen=True)
class Backup:
    archive: Path
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Restored:
    root: Path
    files: int
    bytes: int
    locations_moved: int
    manifest: dict[str, Any]


class _Hashing:
    """A file reader that hashes what tarfile reads from it, so each file is read once."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.digest = stream, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data


# ---------------------------------------------------------------------------------------------- backup
def backup(store: LocalStore, destination: Path, *, say: Say = print) -> Backup:
    """Write one archive of the store into `destination`, read it back and verify it; a failed backup leaves no
    archive behind."""
    if not store.database.is_file():
        raise StoreError(f"no local MLflow store at {store.root} (no {DATABASE_FILE}): run `make run` first")
    destination.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    archive = destination / f"mlflow-backup-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    if archive.exists():
        raise StoreError(f"{archive} already exists (two backups in one second): run it again")
    partial = archive.with_name(archive.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(prefix=".mlflow-backup-", dir=destination) as staging:
            snapshot = Path(staging) / DATABASE_FILE
            _copy_database(store.database, snapshot, say)
            artifacts = _artifact_files(store.artifacts)
            files: dict[str, dict[str, Any]] = {}
            with tarfile.open(partial, "w:gz") as tar:
                files[DATABASE_FILE] = _add_file(tar, snapshot, DATABASE_FILE)
                progress = Progress(say, "artifacts", len(artifacts), sum(p.stat().st_size for p in artifacts))
                for path in artifacts:
                    name = f"{ARTIFACTS_DIR}/{path.relative_to(store.artifacts).as_posix()}"
                    files[name] = _add_file(tar, path, name)
                    progress.add(files[name]["bytes"])
                manifest = _manifest(store, snapshot, files, now)
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        say("verify: reading the archive back")
        _extract_verified(partial, None, lambda line: None)  # exactly the checks a restore makes
        os.replace(partial, archive)
    except OSError as error:  # a file vanished, the disk is full...: say so, as for every other refusal
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup failed: {error}; no archive was written") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Backup(archive, manifest)


def _copy_database(source: Path, target: Path, say: Say) -> None:
    reported = [0]  # tenths already printed

    def report(status: int, remaining: int, total: int) -> None:
        tenth = (total - remaining) * 10 // max(total, 1)
        if tenth > reported[0]:
            reported[0] = tenth
            say(f"database: {total - remaining}/{total} pages copied")

    say(f"database: online backup of {source} ({human_bytes(source.stat().st_size)})")
    # The online backup API copies a consistent snapshot even while another process writes to the store.
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst, pages=1024, progress=report)


def _artifact_files(root: Path) -> list[Path]:
    if not root.exists():
        return []
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise StoreError(f"{path} is a symbolic link: the backup copies regular files only (replace it by a file)")
        if path.is_file():
            files.append(path)
    return files


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> dict[str, Any]:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as stream:
        reader = _Hashing(stream)
        tar.addfile(info, reader)  # tarfile only calls read() on it
    return {"sha256": reader.digest.hexdigest(), "bytes": info.size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _manifest(store: LocalStore, snapshot: Path, files: dict, now: datetime.datetime) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mlflow_version": importlib.metadata.version("mlflow"),  # the version that wrote the store
        "schema_revision": schema_revision(snapshot),
        "artifact_root_uri": store.artifact_root_uri,
        "contents": count_rows(snapshot),
        "files": files,
        "total_files": len(files),
        "total_bytes": sum(entry["bytes"] for entry in files.values()),
    }


# ---------------------------------------------------------------------------------------------- restore
def restore(archive: Path, target: LocalStore, *, say: Say = print) -> Restored:
    """Restore `archive` into the empty store `target`, verified first; on any error nothing is left behind."""
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such file")
    if not target.is_empty():
        raise StoreError(
            f"{target.root} is not empty: restore never overwrites a store. Restore into an empty folder "
            f"(make mlflow-restore FILE=... INTO=<folder>, then MLFLOW_TRACKING_URI=sqlite:///<folder>/{DATABASE_FILE})"
            " or move the current store away first"
        )
    target.root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.root.name}-restore-", dir=target.root.parent))
    try:
        moved, manifest = _restore_into(archive, staging, target, say)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):  # the disk is full, a folder is not writable...
            raise StoreError(f"restore failed: {error}; nothing was restored") from error
        raise
    entries = manifest["files"].values()
    return Restored(target.root, len(entries), sum(entry["bytes"] for entry in entries), moved, manifest)


def _restore_into(archive: Path, staging: Path, target: LocalStore, say: Say) -> tuple[int, dict[str, Any]]:
    """Verify and extract into `staging`, check the database, move its artifact locations, rename it into place."""
    manifest = _extract_verified(archive, staging, say)
    _check_database(staging / DATABASE_FILE, manifest)
    (staging / ARTIFACTS_DIR).mkdir(exist_ok=True)
    moved = relocate_artifacts(staging / DATABASE_FILE, manifest["artifact_root_uri"], target.artifact_root_uri)
    if not target.is_empty():
        raise StoreError(f"{target.root} was written to while restoring: nothing restored, run it again")
    if target.root.exists():
        target.root.rmdir()
    os.replace(staging, target.root)
    os.chmod(target.root, 0o777 & ~_umask())  # mkdtemp made it private (0700); a store folder is not
    return moved, manifest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _extract_verified(archive: Path, staging: Path | None, say: Say) -> dict[str, Any]:
    """Check every member against the manifest; with `staging`, also write each file there."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()  # reads the whole archive: a truncated one fails here
            files = _checked_members(members)
            manifest = _read_manifest(tar, files.pop(MANIFEST, None))
            _same_files(set(files), manifest["files"])
            total_bytes = sum(entry["bytes"] for entry in manifest["files"].values())
            progress = Progress(say, "verify and extract", len(files), total_bytes)
            for name, member in sorted(files.items()):
                _extract_one(tar, member, staging / name if staging else None, manifest["files"][name])
                progress.add(member.size)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ArchiveError(f"{archive.name} is truncated or corrupt ({error}); nothing was restored") from error
    return manifest


def _checked_members(members: list[tarfile.TarInfo]) -> dict[str, tarfile.TarInfo]:
    files: dict[str, tarfile.TarInfo] = {}
    for member in members:
        name, path = member.name, PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or path.as_posix() != name or "\\" in name or not name:
            raise ArchiveError(f"unsafe member name {name!r} (absolute, '..' or not normalized): archive refused")
        top = path.parts[0]
        if top not in (MANIFEST, DATABASE_FILE, ARTIFACTS_DIR) or (top != ARTIFACTS_DIR and len(path.parts) > 1):
            raise ArchiveError(f"unexpected member {name!r}: not a file of a local store backup")
        if member.isdir():
            continue
        if not member.isfile():
            raise ArchiveError(f"member {name!r} is a link or a special file: archive refused")
        if name in files:
            raise ArchiveError(f"member {name!r} appears twice: archive refused")
        files[name] = member
    return files


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo | None) -> dict[str, Any]:
    if member is None:
        raise ArchiveError(f"no {MANIFEST} in the archive (partial, or not a backup made by make mlflow-backup)")
    stream = tar.extractfile(member)
    try:
        manifest = json.loads(stream.read() if stream else b"")
    except ValueError as error:
        raise ArchiveError(f"{MANIFEST} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or (manifest.get("format"), manifest.get("format_version")) != (
        FORMAT,
        FORMAT_VERSION,
    ):
        raise ArchiveError(f"{MANIFEST} is not a {FORMAT} version {FORMAT_VERSION} manifest")
    entries = manifest.get("files")
    if not isinstance(entries, dict) or DATABASE_FILE not in entries:
        raise ArchiveError(f"{MANIFEST} lists no {DATABASE_FILE}")
    for name, entry in entries.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("bytes"), int) and len(entry.get("sha256", "")) == 64):
            raise ArchiveError(f"{MANIFEST}: the entry for {name!r} has no sha256 and size")
    if not str(manifest.get("artifact_root_uri", "")).startswith("file://"):
        raise ArchiveError(f"{MANIFEST} has no file:// artifact_root_uri")
    return manifest


def _same_files(present: set[str], listed: dict[str, Any]) -> None:
    missing, extra = sorted(set(listed) - present), sorted(present - set(listed))
    if missing:
        raise ArchiveError(f"partial archive: {len(missing)} file(s) of the manifest are missing, first {missing[0]!r}")
    if extra:
        raise ArchiveError(f"member {extra[0]!r} is not in the manifest: archive refused")


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path | None, expected: dict[str, Any]) -> None:
    stream = tar.extractfile(member)
    if stream is None:
        raise ArchiveError(f"member {member.name!r} has no content")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with path.open("wb") if path is not None else nullcontext() as out:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if out is not None:
                out.write(chunk)
    if (digest.hexdigest(), size) != (expected["sha256"], expected["bytes"]):
        raise ArchiveError(
            f"{member.name}: sha256 {digest.hexdigest()[:12]}… ({size} bytes) differs from the manifest's "
            f"{expected['sha256'][:12]}… ({expected['bytes']} bytes): archive refused"
        )


def _check_database(database: Path, manifest: dict[str, Any]) -> None:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        try:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise ArchiveError(f"{DATABASE_FILE} is not a usable SQLite database: {error}") from error
    if verdict != "ok":
        raise ArchiveError(f"{DATABASE_FILE} fails SQLite's integrity check: {verdict}")
    revision, supported = schema_revision(database), supported_schema_revision()
    if revision != manifest.get("schema_revision"):
        raise ArchiveError(
            f"{DATABASE_FILE} is at schema {revision}, the manifest says {manifest.get('schema_revision')}"
        )
    if revision != supported:
        raise StoreError(
            f"the backup holds MLflow schema {revision} (written by MLflow {manifest.get('mlflow_version')}); the "
            f"installed MLflow {importlib.metadata.version('mlflow')} reads schema {supported} only: restore it where "
            f"MLflow {manifest.get('mlflow_version')} is installed (then `mlflow db upgrade` brings it forward)"
        )
    if count_rows(database) != manifest.get("contents"):
        raise ArchiveError(f"{DATABASE_FILE} does not hold the rows the manifest counts: archive refused")
