"""Operations on the local MLflow store (seed 004: backup, restore, cleanup), behind make mlflow-backup,
make mlflow-restore and make mlflow-gc. See docs/02-training-validation.md for the procedure and real output.

  python -m ml.local.store_ops backup  [--dest .local/backups]
  python -m ml.local.store_ops restore FILE [--into FOLDER]
  python -m ml.local.store_ops gc      [--days N | --env dev]

Exit codes: 0 done, 1 refused (the message says why; nothing was changed), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ml.local import registry, store_backup, store_gc
from ml.local.store import COUNTED_TABLES, DATABASE_FILE, LocalStore, StoreError, current, human_bytes

DEFAULT_BACKUP_DIR = registry.LOCAL_DIR / "backups"


def _backup(args: argparse.Namespace) -> int:
    source = current()
    start = time.perf_counter()
    written = store_backup.backup(source, Path(args.dest), say=_say("mlflow-backup"))
    archive, manifest = written.archive, written.manifest
    print(
        f"mlflow-backup: wrote {archive} ({human_bytes(archive.stat().st_size)}, {manifest['total_files']} files, "
        f"MLflow {manifest['mlflow_version']}, schema {manifest['schema_revision']}), read back and verified, "
        f"in {time.perf_counter() - start:.1f} s"
    )
    print(f"mlflow-backup: holds {_contents(manifest['contents'])}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    target = LocalStore(Path(args.into).absolute()) if args.into else current()
    start = time.perf_counter()
    restored = store_backup.restore(Path(args.file), target, say=_say("mlflow-restore"))
    manifest = restored.manifest
    print(
        f"mlflow-restore: restored {Path(args.file).name} (made {manifest['created_at']}) into {restored.root}: "
        f"{restored.files} files, {human_bytes(restored.bytes)}, every sha256 verified, "
        f"{restored.locations_moved} artifact locations moved to {target.artifact_root_uri} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    print(f"mlflow-restore: holds {_contents(manifest['contents'])}")
    if args.into:
        print(f"mlflow-restore: use it with MLFLOW_TRACKING_URI=sqlite:///{restored.root / DATABASE_FILE}")
    return 0


def _gc(args: argparse.Namespace) -> int:
    if args.days is not None:
        days = args.days
    else:
        from config import load_environment  # the environment's retention when DAYS is not given

        days = load_environment(args.env).mlflow.deleted_run_retention_days
    collected = store_gc.collect(current(), days, say=_say("mlflow-gc"))
    print(store_gc.report(collected, days))
    return 0


def _contents(counts: dict[str, int]) -> str:
    return ", ".join(f"{table.replace('_', ' ')}: {counts.get(table)}" for table in COUNTED_TABLES)


def _say(prefix: str):
    return lambda line: print(f"{prefix}: {line}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Back up, restore or garbage-collect the local MLflow store.")
    commands = parser.add_subparsers(dest="command", required=True)
    backup = commands.add_parser("backup", help="write one verified archive of the store")
    backup.add_argument("--dest", default=str(DEFAULT_BACKUP_DIR), help="folder for the archive (.local/backups)")
    restore = commands.add_parser("restore", help="restore an archive into an empty store")
    restore.add_argument("file", help="an archive written by `backup`")
    restore.add_argument("--into", help="an empty folder to restore into instead of the current store's")
    gc = commands.add_parser("gc", help="remove runs deleted more than N days ago (mlflow gc)")
    gc.add_argument("--days", type=float, help="retention in days (default: the environment's)")
    gc.add_argument("--env", default="dev", help="environment whose mlflow.deleted_run_retention_days applies")
    args = parser.parse_args(argv)
    try:
        return {"backup": _backup, "restore": _restore, "gc": _gc}[args.command](args)
    except StoreError as error:
        print(f"mlflow-{args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
