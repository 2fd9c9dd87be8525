"""Feature engineering: the one place that turns parsed passenger records into model inputs.

Training fits a few statistics on the training records (fit_encode), inference and evaluation apply them (encode).
The fitted parameters are plain JSON (stored in the model's metadata.json), not a pickled class, so a model
folder is readable by people and loads on any Python that has this module.

Group survival (the feature the Titanic literature found to generalise): passengers who share a ticket or a
family (surname and fare) mostly lived or died together. fit stores, per ticket and per family, how many members
the training data knows and how many of them survived; a passenger's `group_survival` is 1 when another known
member of its ticket or family survived, 0 when others are known and all died, 0.5 when none is known. Training
rows are encoded leave-one-out (a passenger's own label is taken out of its groups), so training sees exactly
what inference sees for a passenger the model never met.

Every candidate feature is computed (ALL_FEATURE_NAMES); a model uses the subset named in its parameters
(`feature_names`, FEATURE_NAMES by default, chosen by cross-validation: docs/02-training-validation.md).
Pure Python plus one numpy call: encoding one passenger costs microseconds, where a DataFrame and a
ColumnTransformer cost milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np

ENCODING_VERSION = 2
# Version 1 (before group survival) encoded the first 21 columns of ALL_FEATURE_NAMES in the same order and needs
# none of the group parameters: its models still load and score (a champion registered before version 2).
READABLE_ENCODING_VERSIONS = (1, 2)

TITLES = ("Mr", "Mrs", "Miss", "Master", "Rare")
# Spelling variants of the common titles; every other title (Dr, Rev, Col, Countess, ...) is "Rare".
TITLE_ALIASES = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}
PORTS = ("C", "Q", "S")
CLASSES = (1, 2, 3)
# Deck = first letter of the cabin, in three bands (single decks hold too few passengers to learn from); T is the
# one boat-deck cabin, first class. No cabin: every band 0 (has_cabin says so).
DECK_BANDS = (("ABC", "ABCT"), ("DE", "DE"), ("FG", "FG"))

ALL_FEATURE_NAMES: tuple[str, ...] = (
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
    "group_survival",
    "log_fare_per_person",
    *(f"deck_{band}" for band, _ in DECK_BANDS),
)
# The model's inputs, chosen by repeated cross-validation (make model-selection prints the ablation).
FEATURE_NAMES: tuple[str, ...] = (
    *(f"pclass_{c}" for c in CLASSES),
    "sex_female",
    *(f"title_{t}" for t in TITLES),
    "group_survival",
    "age",
    "family_size",
)
_COLUMN = {name: index for index, name in enumerate(ALL_FEATURE_NAMES)}
CHILD_AGE = 14.0
_NO_GROUP = (0, 0)


def title_of(name: str) -> str:
    """The honorific in 'Surname, Title. Given names', folded into TITLES."""
    _, _, rest = name.partition(",")
    title = rest.split(".", 1)[0].strip() if "." in rest else ""
    title = TITLE_ALIASES.get(title, title)
    return title if title in TITLES else "Rare"


def family_key(record: Mapping[str, Any]) -> str | None:
    """Surname and fare: a family travelling together paid one fare. None without a fare (parsed: a float)."""
    fare = record["Fare"]
    return None if fare is None else f"{record['Name'].split(',', 1)[0].strip()}|{fare!r}"


def fit(records: Sequence[Mapping[str, Any]], feature_names: Sequence[str] = FEATURE_NAMES) -> dict[str, Any]:
    """Learn imputation values and group counts from training records (never from validation or test data)."""
    if not records:
        raise ValueError("cannot fit features on zero records")
    unknown = [name for name in feature_names if name not in _COLUMN]
    if unknown:
        raise ValueError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(ALL_FEATURE_NAMES)}")
    ages_by_title: dict[str, list[float]] = {title: [] for title in TITLES}
    fares_by_class: dict[int, list[float]] = {c: [] for c in CLASSES}
    tickets: dict[str, list[int]] = {}
    families: dict[str, list[int]] = {}
    for record in records:
        if record["Age"] is not None:
            ages_by_title[title_of(record["Name"])].append(record["Age"])
        if record["Fare"] is not None:
            fares_by_class[record["Pclass"]].append(record["Fare"])
        survived = int(record["Survived"])
        for groups, key in ((tickets, record["Ticket"]), (families, family_key(record))):
            if key is not None:
                counts = groups.setdefault(key, [0, 0])
                counts[0] += 1
                counts[1] += survived
    all_ages = [age for ages in ages_by_title.values() for age in ages]
    all_fares = [fare for fares in fares_by_class.values() for fare in fares]
    age_default = median(all_ages) if all_ages else 28.0
    fare_default = median(all_fares) if all_fares else 14.0
    ports = Counter(record["Embarked"] for record in records if record["Embarked"] is not None)
    return {
        "encoding_version": ENCODING_VERSION,
        "feature_names": list(feature_names),
        "age_by_title": {t: (median(a) if a else age_default) for t, a in ages_by_title.items()},
        "fare_by_class": {str(c): (median(f) if f else fare_default) for c, f in fares_by_class.items()},
        "embarked_default": ports.most_common(1)[0][0] if ports else "S",
        # [known members, survivors] per ticket and per family_key, sorted keys: metadata.json stays deterministic.
        "ticket_groups": {key: tickets[key] for key in sorted(tickets)},
        "family_groups": {key: families[key] for key in sorted(families)},
    }


def encode_row(record: Mapping[str, Any], params: Mapping[str, Any], own_label: int | None = None) -> list[float]:
    """One parsed record (schema.parse_record output) as floats in ALL_FEATURE_NAMES order.

    own_label: the record's label when it is one of the records params were fitted on (leave-one-out).
    """
    groups = (params.get("ticket_groups", {}), params.get("family_groups", {}))
    return _row(record, params, groups, own_label)


def _row(
    record: Mapping[str, Any], params: Mapping[str, Any], groups: tuple[dict, dict], own_label: int | None
) -> list[float]:
    title = title_of(record["Name"])
    pclass = record["Pclass"]
    age = record["Age"]
    fare = record["Fare"]
    port = record["Embarked"] or params["embarked_default"]
    sibsp, parch = record["SibSp"], record["Parch"]
    age_missing = age is None
    if age_missing:
        age = params["age_by_title"][title]
    family_id = family_key(record)
    if fare is None:
        fare = params["fare_by_class"][str(pclass)]
    ticket_known, ticket_survived = groups[0].get(record["Ticket"], _NO_GROUP)
    family_known, family_survived = groups[1].get(family_id, _NO_GROUP) if family_id is not None else _NO_GROUP
    if own_label is not None:  # the passenger is in its own groups: take it out
        ticket_known, ticket_survived = ticket_known - 1, ticket_survived - own_label
        if family_id is not None:
            family_known, family_survived = family_known - 1, family_survived - own_label
    if ticket_survived > 0 or family_survived > 0:
        group_survival = 1.0
    else:
        group_survival = 0.0 if ticket_known > 0 or family_known > 0 else 0.5
    family = sibsp + parch + 1
    deck = (record["Cabin"] or " ")[0]
    # Written out rather than built from CLASSES/PORTS/TITLES: this runs once per passenger on the serving hot path.
    # tests/ml/test_features.py checks the order against ALL_FEATURE_NAMES.
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
        group_survival,
        math.log1p(fare / (ticket_known + 1)),  # the fare is per ticket: share it among the ticket's passengers
        float(deck in "ABCT"),
        float(deck in "DE"),
        float(deck in "FG"),
    ]


def _matrix(rows: list[list[float]], params: Mapping[str, Any]) -> np.ndarray:
    version = params.get("encoding_version")
    if version not in READABLE_ENCODING_VERSIONS:
        raise ValueError(
            f"model features use encoding version {version!r}, "
            f"this code encodes versions {', '.join(map(str, READABLE_ENCODING_VERSIONS))}"
        )
    names = params["feature_names"]
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(ALL_FEATURE_NAMES))
    if tuple(names) == ALL_FEATURE_NAMES:
        return matrix
    return matrix[:, [_COLUMN[name] for name in names]]


def encode(records: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> np.ndarray:
    """A float64 matrix, one row per record, columns in params['feature_names'] order (inference, evaluation)."""
    groups = (params.get("ticket_groups", {}), params.get("family_groups", {}))  # version 1 has none
    return _matrix([_row(record, params, groups, None) for record in records], params)


def fit_encode(
    records: Sequence[Mapping[str, Any]], feature_names: Sequence[str] = FEATURE_NAMES
) -> tuple[dict[str, Any], np.ndarray]:
    """fit, then the training matrix encoded leave-one-out: no passenger sees its own label through its groups."""
    params = fit(records, feature_names)
    groups = (params["ticket_groups"], params["family_groups"])
    rows = [_row(record, params, groups, int(record["Survived"])) for record in records]
    return params, _matrix(rows, params)
