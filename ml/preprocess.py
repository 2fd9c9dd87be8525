"""Phase 02: DataPreProcessing: validate raw passengers against the contract, clean them, split train/validation/test.

SageMaker Processing runs this file with its default paths; locally pass --input-dir and --output-dir.
Writes <output-dir>/<split>/<split>.csv for every split in ml.contracts.SPLITS, in the raw column layout
(cleaned: trimmed, typed, canonical numbers). The engineered features are computed from these columns by
ml/features.py at training and inference time, so the served model sees exactly what training saw.

Invalid data: exit code 2, a message naming files, rows, columns and reasons, and nothing written.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file (SageMaker runs files): make the `ml` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import random
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

from ml import contracts, dataset, schema

EXIT_INVALID_DATA = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--input-dir", default=contracts.RAW_INPUT_DIR, help="folder of raw CSV files, or one file")
    parser.add_argument("--output-dir", default=contracts.SPLIT_OUTPUT_ROOT, help="one sub-folder per split")
    parser.add_argument("--seed", type=int, default=42, help="seed of the shuffle before splitting")
    parser.add_argument("--train-fraction", type=float, default=0.70)
    parser.add_argument("--validation-fraction", type=float, default=0.15, help="the test split gets the rest")
    args = parser.parse_args(argv)
    test_fraction = 1.0 - args.train_fraction - args.validation_fraction
    if not (0 < args.train_fraction < 1 and 0 < args.validation_fraction < 1 and test_fraction > 0.001):
        parser.error("fractions must be in (0, 1) and leave a test split: train + validation < 1")
    return args


def stratified_split(
    records: Sequence[dict[str, Any]], train_fraction: float, validation_fraction: float, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Split each label's records by the fractions (same survival rate in every split), reproducibly for a seed."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible shuffle, not a secret
    splits: dict[str, list[dict[str, Any]]] = {name: [] for name in contracts.SPLITS}
    for label in sorted({record[schema.LABEL] for record in records}):
        members = [record for record in records if record[schema.LABEL] == label]
        rng.shuffle(members)
        train_end = round(len(members) * train_fraction)
        validation_end = round(len(members) * (train_fraction + validation_fraction))
        train, validation, test = contracts.SPLITS
        splits[train] += members[:train_end]
        splits[validation] += members[train_end:validation_end]
        splits[test] += members[validation_end:]
    for name, members in splits.items():
        if not members:
            raise dataset.InvalidData(f"too few rows ({len(records)}) to fill the {name} split")
        members.sort(key=lambda record: record[schema.ID])  # stable file content, independent of shuffle order
    return splits


def write_splits(splits: dict[str, list[dict[str, Any]]], output_dir: Path) -> None:
    """Write every split into a temporary folder first, then move each into place."""
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".preprocess-", dir=output_dir))
    try:
        for name, members in splits.items():
            folder = staging / name
            folder.mkdir()
            (folder / contracts.split_file(name)).write_bytes(dataset.to_csv_bytes(members, schema.TRAINING_COLUMNS))
        for name in splits:
            target = output_dir / name / contracts.split_file(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            (staging / name / contracts.split_file(name)).replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        records, digest = dataset.read_records(args.input_dir)
        splits = stratified_split(records, args.train_fraction, args.validation_fraction, args.seed)
    except dataset.InvalidData as error:
        print(f"DataPreProcessing: invalid input, nothing written.\n{error}", file=sys.stderr)
        return EXIT_INVALID_DATA
    write_splits(splits, Path(args.output_dir))
    sizes = ", ".join(
        f"{name} {len(members)} (survival {sum(r[schema.LABEL] for r in members) / len(members):.3f})"
        for name, members in splits.items()
    )
    print(f"DataPreProcessing: {len(records)} valid rows (sha256 {digest[:12]}), seed {args.seed}: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
