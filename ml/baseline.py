"""The drift baseline of a model: what its training traffic looked like, per request column and for its predictions.

TrainModel writes it into the model folder (contracts.BASELINE_FILE, beside model.joblib): the inputs profiled on the
passengers the model was fitted on (train + validation), its predictions on them. The drift check (ml/drift.py)
profiles captured traffic with the same functions and the stored bin edges and categories, so both sides are counted
by one piece of code.

Generic over the model's INPUT: the raw request columns of ml/schema.py, not the engineered features, so a change of
feature engineering never breaks it. Per column kind:
- numeric (int/float without an allowed set): quantile bin edges and the count per bin;
- categorical (a category, or an int with an allowed set): the categories seen in training plus an OTHER bucket;
- presence (nullable free text such as Cabin): only how often it is missing;
and every column its missing count. The identifier and non-nullable free text (Name, Ticket: personal data) are not
profiled; captured values of them are only checked against the schema.

Plain JSON, deterministic (sorted keys, counts, rounded rates: the same data gives the same bytes), versioned
(BASELINE_VERSION). Standard library only: the monitor Lambda loads it without numpy.
"""

from __future__ import annotations

import json
import tarfile
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml import contracts, dataset, schema

BASELINE_VERSION = 1
DEFAULT_BINS = 10  # deciles: at 100 live records ~10 per bin, enough for the chi-square approximation
NUMERIC, CATEGORICAL, PRESENCE = "numeric", "categorical", "presence"
OTHER = "<other>"  # the bucket of categories never seen in training
PREDICTION = "prediction"  # the report's name for the model's output distribution
PROBABILITY_DECIMALS = 6  # inference.output_fn rounds probabilities so: the baseline bins the same values


class BaselineError(ValueError):
    """A baseline file is missing, unreadable or of another version; the message says which and why."""


def monitored_columns(columns: Sequence[schema.Column] = schema.INFERENCE_COLUMNS) -> list[tuple[str, str]]:
    """(column, kind) of every request column a drift test can judge, in schema order."""
    monitored = []
    for column in columns:
        if column.name == schema.ID:
            continue  # an identifier has no distribution to drift
        if column.kind == "category" or column.allowed:
            monitored.append((column.name, CATEGORICAL))
        elif column.kind in ("int", "float"):
            monitored.append((column.name, NUMERIC))
        elif column.nullable:
            monitored.append((column.name, PRESENCE))  # free text: only whether it is there
    return monitored


def quantile_edges(values: Sequence[float], bins: int = DEFAULT_BINS) -> list[float]:
    """Right-closed bin edges at the 1/bins ... (bins-1)/bins quantiles (nearest rank, so each edge is a data value).

    Ties collapse (SibSp is mostly 0: few edges), and no edge equals the maximum, so no bin is empty on the data it
    was learnt from: bin i is (edges[i-1], edges[i]], the first (-inf, edges[0]], the last (edges[-1], +inf).
    """
    ordered = sorted(values)
    count = len(ordered)
    if count == 0:
        return []
    cuts = {ordered[max(0, -(-k * count // bins) - 1)] for k in range(1, bins)}
    return sorted(cut for cut in cuts if cut < ordered[-1])


def bin_counts(values: Iterable[float], edges: Sequence[float]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect_left(edges, value)] += 1
    return counts


def category_key(value: Any) -> str:
    """Categories are compared as text (JSON keys are text; Pclass 1 and "1" are one category after the schema)."""
    return str(value)


def category_counts(values: Iterable[Any], categories: Sequence[str]) -> list[int]:
    """Counts aligned with `categories`, whose last entry is OTHER (every value not listed before it)."""
    index = {category: position for position, category in enumerate(categories[:-1])}
    counts = [0] * len(categories)
    for value in values:
        counts[index.get(category_key(value), len(categories) - 1)] += 1
    return counts


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def profile(kind: str, values: Sequence[Any], reference: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The profile of one column's values (None = missing). With `reference` (a baseline profile), the values are
    counted in its bins or categories; without, the bins and categories are learnt from the values."""
    present = [value for value in values if value is not None]
    result: dict[str, Any] = {
        "kind": kind,
        "rows": len(values),
        "missing": len(values) - len(present),
        "missing_rate": _rate(len(values) - len(present), len(values)),
    }
    if kind == NUMERIC:
        edges = list(reference["edges"]) if reference else quantile_edges(present)
        result.update(edges=edges, counts=bin_counts(present, edges))
    elif kind == CATEGORICAL:
        categories = (
            list(reference["categories"]) if reference else [*sorted({category_key(v) for v in present}), OTHER]
        )
        result.update(categories=categories, counts=category_counts(present, categories))
    if "counts" in result:
        result["frequencies"] = [_rate(count, len(present)) or 0.0 for count in result["counts"]]
    return result


def prediction_profile(
    probabilities: Iterable[float], decision_threshold: float, reference: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The output distribution: probability histogram (quantile bins, as a numeric column) and positive rate."""
    rounded = [round(float(p), PROBABILITY_DECIMALS) for p in probabilities]
    result = profile(NUMERIC, rounded, reference)
    positive = sum(1 for p in rounded if p >= decision_threshold)
    result.update(decision_threshold=decision_threshold, positive=positive, positive_rate=_rate(positive, len(rounded)))
    return result


def build(
    reference_records: Sequence[Mapping[str, Any]],
    reference_probabilities: Iterable[float],
    decision_threshold: float,
    split: str,
    columns: Sequence[schema.Column] = schema.INFERENCE_COLUMNS,
) -> dict[str, Any]:
    """The baseline document: every monitored column of `reference_records` (the passengers of `split` the model was
    fitted on, parsed by the schema) and the model's survival probabilities on them."""
    if not reference_records:
        raise BaselineError("cannot build a baseline from zero records")
    features = {
        name: profile(kind, [record.get(name) for record in reference_records])
        for name, kind in monitored_columns(columns)
    }
    return {
        "baseline_version": BASELINE_VERSION,
        "features": features,
        PREDICTION: prediction_profile(reference_probabilities, decision_threshold),
        "reference": {"split": split, "rows": len(reference_records)},
    }


def dumps(baseline: Mapping[str, Any]) -> str:
    return json.dumps(baseline, indent=2, sort_keys=True) + "\n"


def write(model_dir: str | Path, baseline: Mapping[str, Any]) -> Path:
    path = Path(model_dir) / contracts.BASELINE_FILE
    dataset.write_atomically(path, dumps(baseline).encode("utf-8"))
    return path


def loads(text: str | bytes, source: str) -> dict[str, Any]:
    """A baseline from its JSON text (an S3 object body in the monitor Lambda); BaselineError naming `source`."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise BaselineError(f"{source}: not a JSON baseline: {error}") from None
    version = document.get("baseline_version") if isinstance(document, dict) else None
    if version != BASELINE_VERSION:
        raise BaselineError(f"{source}: baseline_version {version!r}, this code reads version {BASELINE_VERSION}")
    if not isinstance(document.get("features"), dict) or not isinstance(document.get(PREDICTION), dict):
        raise BaselineError(f"{source}: a baseline needs 'features' and '{PREDICTION}' sections")
    return document


def load(location: str | Path) -> dict[str, Any]:
    """A baseline from a baseline.json, a model folder holding one, or a SageMaker model.tar.gz."""
    path = Path(location)
    if path.is_dir():
        path = path / contracts.BASELINE_FILE
    if not path.is_file():
        raise BaselineError(f"{path}: no such baseline file (a model trained before baselines existed?)")
    if path.name.endswith(".tar.gz"):
        return loads(_member_of_archive(path), str(path))
    try:
        return loads(path.read_bytes(), str(path))
    except OSError as error:
        raise BaselineError(f"{path}: cannot read: {error}") from None


def _member_of_archive(archive: Path) -> bytes:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = next((m for m in tar.getmembers() if Path(m.name).name == contracts.BASELINE_FILE), None)
            handle = tar.extractfile(member) if member is not None and member.isfile() else None
            if handle is None:
                raise BaselineError(f"{archive}: holds no {contracts.BASELINE_FILE}")
            return handle.read()
    except (OSError, tarfile.TarError) as error:
        raise BaselineError(f"{archive}: not a readable model archive: {error}") from None


def bin_labels(feature: Mapping[str, Any]) -> list[str]:
    """Human labels of a profile's bins or categories (tables and plots)."""
    if "categories" in feature:
        return list(feature["categories"])
    edges = feature.get("edges", [])
    if not edges:
        return ["all"]
    labels = [f"<= {edges[0]:g}"]
    labels += [f"({low:g}, {high:g}]" for low, high in zip(edges, edges[1:])]
    return [*labels, f"> {edges[-1]:g}"]
