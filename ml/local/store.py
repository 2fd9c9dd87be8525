"""Where the local MLflow store lives on disk, and the facts about it that backup, restore and gc share.

The local store is the one ml/local/registry.py uses: a folder holding `mlflow.db` (SQLite, the backend store) and
`artifacts/` (the artifact root of every experiment the registry creates). MLFLOW_TRACKING_URI may point it at another
SQLite file; a tracking server (http://, arn:) is not a local store, so these operations refuse it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ml.local import registry

DATABASE_FILE = "mlflow.db"
ARTIFACTS_DIR = "artifacts"
SQLITE_PREFIX = "sqlite:///"
Say = Callable[[str], None]  # where progress lines go (print, or a test's list.append)

# Columns in which MLflow stores artifact locations as URIs (MLflow 3.17 schema): a restore into another folder
# rewrites the old artifact root there, and nowhere else (a param or tag that mentions a path is data, not a location).
LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
    ("workspaces", "default_artifact_root"),
)


# Rows counted into a backup's manifest (a quick look at what an archive holds) and checked again after a restore.
COUNTED_TABLES = ("experiments", "runs", "registered_models", "model_versions", "registered_model_aliases")


class StoreError(Exception):
    """A store operation cannot be done; the message says why and what to do. Nothing was changed."""


@dataclass(frozen=True)
class LocalStore:
    root: Path  # the folder holding the database and the artifacts

    @property
    def database(self) -> Path:
        return self.root / DATABASE_FILE

    @property
    def artifacts(self) -> Path:
        return self.root / ARTIFACTS_DIR

    @property
    def uri(self) -> str:
        return f"{SQLITE_PREFIX}{self.database}"

    @property
    def artifact_root_uri(self) -> str:
        # As ml/local/registry.py writes it into every experiment: absolute, symbolic links kept.
        return self.artifacts.absolute().as_uri()

    def is_empty(self) -> bool:
        return not self.root.exists() or (self.root.is_dir() and not any(self.root.iterdir()))


def current() -> LocalStore:
    """The store the registry uses (MLFLOW_TRACKING_URI or .local/mlflow), without creating anything."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"{SQLITE_PREFIX}{registry.LOCAL_DIR / 'mlflow' / DATABASE_FILE}"
    if not uri.startswith(SQLITE_PREFIX):
        raise StoreError(
            f"MLFLOW_TRACKING_URI={uri} is not a local SQLite store: backup, restore and gc work on the local store "
            "only (a SageMaker-managed store is backed up and cleaned by AWS, see docs/03)"
        )
    database = Path(uri[len(SQLITE_PREFIX) :]).absolute()
    if database.name != DATABASE_FILE:
        raise StoreError(f"the local store's database must be named {DATABASE_FILE} (got {database})")
    return LocalStore(database.parent)


def schema_revision(database: Path) -> str:
    """The Alembic revision MLflow stamped in the database (which schema version it holds)."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    if len(rows) != 1:
        raise StoreError(f"{database} has {len(rows)} schema revisions recorded, expected exactly one")
    return str(rows[0][0])


def supported_schema_revision() -> str:
    """The schema revision the installed MLflow writes and reads (it refuses a database at any other revision)."""
    from mlflow.store.db.utils import _get_latest_schema_revision  # the check MLflow itself runs on open

    return str(_get_latest_schema_revision())


def relocate_artifacts(database: Path, old_root_uri: str, new_root_uri: str) -> int:
    """Point every artifact location under old_root_uri at new_root_uri instead; the number of values rewritten."""
    if old_root_uri == new_root_uri:
        return 0
    changed = 0
    with closing(sqlite3.connect(database)) as connection, connection:  # one transaction, then closed
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, column in LOCATION_COLUMNS:
            if table not in tables:
                continue
            # Table and column names come from LOCATION_COLUMNS above, never from input: safe to format in.
            cursor = connection.execute(
                f"UPDATE {table} SET {column} = :new || substr({column}, :cut) "  # noqa: S608
                f"WHERE {column} = :old OR substr({column}, 1, :prefix_length) = :old || '/'",
                {
                    "new": new_root_uri,
                    "old": old_root_uri,
                    "cut": len(old_root_uri) + 1,
                    "prefix_length": len(old_root_uri) + 1,
                },
            )
            changed += cursor.rowcount
    return changed


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def count_rows(database: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        # Table names come from COUNTED_TABLES, never from input.
        return {t: connection.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES}  # noqa: S608


class Progress:
    """One line at each tenth of the work, so long backups and restores show they are moving."""

    def __init__(self, say: Say, label: str, total_files: int, total_bytes: int) -> None:
        self.say, self.label, self.total_files, self.total_bytes = say, label, total_files, total_bytes
        self.files = self.bytes = self.reported = 0
        say(f"{label}: {total_files} files, {human_bytes(total_bytes)}")

    def add(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        tenth = self.files * 10 // max(self.total_files, 1)
        if tenth > self.reported:
            self.reported = tenth
            self.say(f"{self.label}: {self.files}/{self.total_files} files ({human_bytes(self.bytes)})")
