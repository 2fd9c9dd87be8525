"""Feature engineering: the one place that turns parsed passenger records into model inputs.

Training fits a few statistics on the train split (fit), inference and evaluation apply them (encode).
The fitted parameters are plain JSON (stored in the model's metadata.json), not a pickled class, so a model
folder is readable by people and loads on any Python that has this module.

Pure Python plus one numpy call: encoding one passenger costs microseconds, where a DataFrame and a
ColumnTransformer cost milliseconds (see docs/02-training-validation.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np

ENCODING_VERSION = 1

TITLES = ("Mr", "Mrs", "Miss", "Master", "Rare")
# Spelling variants of the common titles; every other title (Dr, Rev, Col, Countess, ...) is "Rare".
TITLE_ALIASES = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}
PORTS = ("C", "Q", "S")
CLASSES = (1, 2, 3)

FEATURE_NAMES: tuple[str, ...] = (
    *(f"pclass_{c}" for c in CLASSES),
    "sex_female",
    "age",
    "age_missing",
    "is_child",
    "sibsp",
    "parch",
    "family_size",
    "is_alone",
    "log_fare",
    "has_cabin",
    *(f"embarked_{p}" for p in PORTS),
    *(f"title_{t}" for t in TITLES),
)
CHILD_AGE = 14.0


def title_of(name: str) -> str:
    """The honorific in 'Surname, Title. Given names', folded into TITLES."""
    _, _, rest = name.partition(",")
    title = rest.split(".", 1)[0].strip() if "." in rest else ""
    title = TITLE_ALIASES.get(title, title)
    return title if title in TITLES else "Rare"


def fit(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Learn the imputation values from training records (never from validation or test data)."""
    if not records:
        raise ValueError("cannot fit features on zero records")
    ages_by_title: dict[str, list[float]] = {title: [] for title in TITLES}
    fares_by_class: dict[int, list[float]] = {c: [] for c in CLASSES}
    for record in records:
        if record["Age"] is not None:
            ages_by_title[title_of(record["Name"])].append(record["Age"])
        if record["Fare"] is not None:
            fares_by_class[record["Pclass"]].append(record["Fare"])
    all_ages = [age for ages in ages_by_title.values() for age in ages]
    all_fares = [fare for fares in fares_by_class.values() for fare in fares]
    age_default = median(all_ages) if all_ages else 28.0
    fare_default = median(all_fares) if all_fares else 14.0
    ports = Counter(record["Embarked"] for record in records if record["Embarked"] is not None)
    return {
        "encoding_version": ENCODING_VERSION,
        "feature_names": list(FEATURE_NAMES),
        "age_by_title": {t: (median(a) if a else age_default) for t, a in ages_by_title.items()},
        "fare_by_class": {str(c): (median(f) if f else fare_default) for c, f in fares_by_class.items()},
        "embarked_default": ports.most_common(1)[0][0] if ports else "S",
    }


def encode_row(record: Mapping[str, Any], params: Mapping[str, Any]) -> list[float]:
    """One parsed record (schema.parse_record output) as a list of floats in FEATURE_NAMES order."""
    title = title_of(record["Name"])
    pclass = record["Pclass"]
    age = record["Age"]
    fare = record["Fare"]
    port = record["Embarked"] or params["embarked_default"]
    sibsp, parch = record["SibSp"], record["Parch"]
    age_missing = age is None
    if age_missing:
        age = params["age_by_title"][title]
    if fare is None:
        fare = params["fare_by_class"][str(pclass)]
    family = sibsp + parch + 1
    # Written out rather than built from CLASSES/PORTS/TITLES: this runs once per passenger on the serving hot path.
    # tests/ml/test_features.py checks the order against FEATURE_NAMES.
    return [
        float(pclass == 1),
        float(pclass == 2),
        float(pclass == 3),
        float(record["Sex"] == "female"),
        float(age),
        float(age_missing),
        float(age < CHILD_AGE),
        float(sibsp),
        float(parch),
        float(family),
        float(family == 1),
        math.log1p(fare),
        float(record["Cabin"] is not None),
        float(port == "C"),
        float(port == "Q"),
        float(port == "S"),
        float(title == "Mr"),
        float(title == "Mrs"),
        float(title == "Miss"),
        float(title == "Master"),
        float(title == "Rare"),
    ]


def encode(records: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> np.ndarray:
    """A float64 matrix, one row per record, columns in FEATURE_NAMES order."""
    if params.get("encoding_version") != ENCODING_VERSION:
        raise ValueError(
            f"model features use encoding version {params.get('encoding_version')!r}, "
            f"this code encodes version {ENCODING_VERSION}"
        )
    return np.array([encode_row(record, params) for record in records], dtype=np.float64).reshape(
        len(records), len(FEATURE_NAMES)
    )
