"""Where things are in the repository: the one home of PROJECT_ROOT (and the bundled seed dataset)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED_DATASET = PROJECT_ROOT / "data" / "titanic.csv"  # the Kaggle training set (checksum in data/README.md)
