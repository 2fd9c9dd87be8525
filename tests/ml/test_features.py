"""ml/features.py: titles, imputation learnt from training records only, encoding order and speed-relevant shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml import features, schema
from ml.smoke import KNOWN_PASSENGERS


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Braund, Mr. Owen Harris", "Mr"),
        ("Cumings, Mrs. John Bradley (Florence Briggs Thayer)", "Mrs"),
        ("Heikkinen, Miss. Laina", "Miss"),
        ("Palsson, Master. Gosta Leonard", "Master"),
        ("Aubart, Mme. Leontine Pauline", "Mrs"),
        ("Sagesser, Mlle. Emma", "Miss"),
        ("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)", "Rare"),
        ("Uruchurtu, Don. Manuel E", "Rare"),
        ("no comma or dot", "Rare"),
    ],
)
def test_title_of(name: str, title: str) -> None:
    assert features.title_of(name) == title


def parsed(passenger: dict) -> dict:
    values, errors = schema.parse_record(passenger)
    assert not errors
    return values


def test_fit_learns_imputation_values_as_json() -> None:
    records = [parsed(p) for p, _ in KNOWN_PASSENGERS]
    params = features.fit(records)
    assert json.loads(json.dumps(params)) == params  # plain JSON, stored in metadata.json
    assert params["age_by_title"]["Mrs"] == 38.0  # the only Mrs with an age
    assert params["age_by_title"]["Master"] == 30.0  # no Master in the data: the overall median (22, 38)
    assert params["fare_by_class"]["3"] == pytest.approx((7.25 + 7.8958) / 2)
    assert params["embarked_default"] in ("C", "S")


def test_encode_fills_missing_values_and_keeps_feature_order() -> None:
    records = [parsed(p) for p, _ in KNOWN_PASSENGERS]
    params = features.fit(records)
    missing = dict(records[3], Age=None, Fare=None, Embarked=None, Cabin=None)
    row = dict(zip(features.FEATURE_NAMES, features.encode([missing], params)[0]))
    assert row["age"] == params["age_by_title"]["Mr"]
    assert row["age_missing"] == 1.0
    assert row["log_fare"] == pytest.approx(np.log1p(params["fare_by_class"]["3"]))
    assert row[f"embarked_{params['embarked_default']}"] == 1.0
    assert row["has_cabin"] == 0.0
    assert row["pclass_3"] == 1.0 and row["pclass_1"] == 0.0
    assert row["title_Mr"] == 1.0 and row["sex_female"] == 0.0


def test_encode_shape_and_dtype() -> None:
    records = [parsed(p) for p, _ in KNOWN_PASSENGERS]
    matrix = features.encode(records, features.fit(records))
    assert matrix.shape == (len(records), len(features.FEATURE_NAMES))
    assert matrix.dtype == np.float64
    assert features.encode([], features.fit(records)).shape == (0, len(features.FEATURE_NAMES))


def test_encode_refuses_parameters_of_another_encoding_version() -> None:
    records = [parsed(p) for p, _ in KNOWN_PASSENGERS]
    params = dict(features.fit(records), encoding_version=99)
    with pytest.raises(ValueError, match="encoding version 99"):
        features.encode(records, params)


def test_fit_refuses_no_records() -> None:
    with pytest.raises(ValueError, match="zero records"):
        features.fit([])


def test_each_one_hot_lands_on_its_named_column() -> None:
    records = [parsed(p) for p, _ in KNOWN_PASSENGERS]
    params = features.fit(records)
    for pclass in features.CLASSES:
        for port in features.PORTS:
            for title, name in [
                ("Mr", "A, Mr. B"),
                ("Mrs", "A, Mrs. B"),
                ("Miss", "A, Miss. B"),
                ("Master", "A, Master. B"),
                ("Rare", "A, Dr. B"),
            ]:
                record = dict(records[0], Pclass=pclass, Embarked=port, Name=name, SibSp=0, Parch=0, Age=30.0)
                row = dict(zip(features.FEATURE_NAMES, features.encode_row(record, params)))
                hot = {k for k, v in row.items() if v == 1.0 and k.split("_")[0] in ("pclass", "embarked", "title")}
                assert hot == {f"pclass_{pclass}", f"embarked_{port}", f"title_{title}"}
                assert row["is_alone"] == 1.0 and row["family_size"] == 1.0 and row["is_child"] == 0.0
    assert len(features.encode_row(records[0], params)) == len(features.FEATURE_NAMES)
