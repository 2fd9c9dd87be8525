"""ml/features.py: titles, imputation and group counts learnt from training records only, leave-one-out group
survival, encoding order and speed-relevant shape."""

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


def parsed(passenger: dict, survived: int | None = None) -> dict:
    values, errors = schema.parse_record(passenger)
    assert not errors
    return values if survived is None else {**values, "Survived": survived}


def labelled() -> list[dict]:
    return [parsed(p, survived) for p, survived in KNOWN_PASSENGERS]


def columns(record: dict, params: dict) -> dict[str, float]:
    return dict(zip(features.ALL_FEATURE_NAMES, features.encode_row(record, params)))


def test_fit_learns_imputation_values_as_json() -> None:
    records = labelled()
    params = features.fit(records)
    assert json.loads(json.dumps(params)) == params  # plain JSON, stored in metadata.json
    assert params["age_by_title"]["Mrs"] == 38.0  # the only Mrs with an age
    assert params["age_by_title"]["Master"] == 30.0  # no Master in the data: the overall median (22, 38)
    assert params["fare_by_class"]["3"] == pytest.approx((7.25 + 7.8958) / 2)
    assert params["embarked_default"] in ("C", "S")


def test_encode_fills_missing_values_and_keeps_feature_order() -> None:
    records = labelled()
    params = features.fit(records)
    missing = dict(records[3], Age=None, Fare=None, Embarked=None, Cabin=None)
    row = columns(missing, params)
    assert row["age"] == params["age_by_title"]["Mr"]
    assert row["age_missing"] == 1.0
    assert row["log_fare"] == pytest.approx(np.log1p(params["fare_by_class"]["3"]))
    assert row[f"embarked_{params['embarked_default']}"] == 1.0
    assert row["has_cabin"] == 0.0
    assert row["pclass_3"] == 1.0 and row["pclass_1"] == 0.0
    assert row["title_Mr"] == 1.0 and row["sex_female"] == 0.0


def test_encode_shape_and_dtype() -> None:
    records = labelled()
    matrix = features.encode(records, features.fit(records))
    assert matrix.shape == (len(records), len(features.FEATURE_NAMES))
    assert matrix.dtype == np.float64
    assert features.encode([], features.fit(records)).shape == (0, len(features.FEATURE_NAMES))


def test_encode_refuses_parameters_of_another_encoding_version() -> None:
    records = labelled()
    params = dict(features.fit(records), encoding_version=99)
    with pytest.raises(ValueError, match="encoding version 99"):
        features.encode(records, params)


def test_fit_refuses_no_records() -> None:
    with pytest.raises(ValueError, match="zero records"):
        features.fit([])


def test_each_one_hot_lands_on_its_named_column() -> None:
    records = labelled()
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
                row = columns(record, params)
                hot = {k for k, v in row.items() if v == 1.0 and k.split("_")[0] in ("pclass", "embarked", "title")}
                assert hot == {f"pclass_{pclass}", f"embarked_{port}", f"title_{title}"}
                assert row["is_alone"] == 1.0 and row["family_size"] == 1.0 and row["is_child"] == 0.0
    assert len(features.encode_row(records[0], params)) == len(features.ALL_FEATURE_NAMES)


def passenger(pid: int, name: str, ticket: str, fare: float | None, survived: int) -> dict:
    base = {"PassengerId": pid, "Pclass": 3, "Name": name, "Sex": "male", "Age": 30, "SibSp": 0, "Parch": 0}
    return parsed({**base, "Ticket": ticket, "Fare": fare, "Cabin": None, "Embarked": "S"}, survived)


GROUPS = [
    passenger(1, "Smith, Mr. A", "T1", 20.0, 1),
    passenger(2, "Jones, Mr. B", "T1", 20.0, 0),  # shares ticket T1 with Smith
    passenger(3, "Brown, Mr. C", "T2", 8.0, 0),  # alone
    passenger(4, "Brown, Mr. D", "T3", 8.0, 0),  # another ticket, but Brown at the same fare: family of C
]


def test_group_survival_is_leave_one_out_for_training_rows() -> None:
    params, matrix = features.fit_encode(GROUPS, features.ALL_FEATURE_NAMES)
    column = features.ALL_FEATURE_NAMES.index("group_survival")
    # Smith sees only Jones (died): 0; Jones sees Smith (survived): 1; the Browns see each other (died): 0.
    assert matrix[:, column].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert params["ticket_groups"] == {"T1": [2, 1], "T2": [1, 0], "T3": [1, 0]}
    assert params["family_groups"]["Brown|8.0"] == [2, 0]


def test_group_survival_at_inference_uses_every_known_member() -> None:
    params = features.fit(GROUPS)
    unseen = [
        passenger(10, "Other, Mr. E", "T1", 20.0, 0),  # ticket T1: Smith survived
        passenger(11, "Brown, Mr. F", "T9", 8.0, 0),  # family Brown|8.0: both died
        passenger(12, "Nobody, Mr. G", "T9", None, 0),  # no known ticket, no fare: no family key
    ]
    assert [columns(r, params)["group_survival"] for r in unseen] == [1.0, 0.0, 0.5]


def test_fare_per_person_shares_the_ticket_fare_among_its_known_passengers() -> None:
    params, matrix = features.fit_encode(GROUPS, features.ALL_FEATURE_NAMES)
    column = features.ALL_FEATURE_NAMES.index("log_fare_per_person")
    assert matrix[0, column] == pytest.approx(np.log1p(20.0 / 2))  # Smith and Jones on T1
    new_on_t1 = passenger(10, "Other, Mr. E", "T1", 30.0, 0)
    assert columns(new_on_t1, params)["log_fare_per_person"] == pytest.approx(np.log1p(30.0 / 3))


def test_deck_bands_come_from_the_first_cabin_letter() -> None:
    params = features.fit(GROUPS)
    for cabin, band in [("B78", "ABC"), ("T", "ABC"), ("E12 E14", "DE"), ("G6", "FG"), (None, None)]:
        row = columns({**GROUPS[0], "Cabin": cabin}, params)
        assert {b for b, _ in features.DECK_BANDS if row[f"deck_{b}"] == 1.0} == ({band} if band else set())


def test_a_model_encodes_only_its_feature_subset() -> None:
    names = ["sex_female", "group_survival"]
    params, matrix = features.fit_encode(GROUPS, names)
    assert params["feature_names"] == names and matrix.shape == (4, 2)
    assert features.encode(GROUPS, params).shape == (4, 2)
    with pytest.raises(ValueError, match="unknown feature"):
        features.fit(GROUPS, ["sex_female", "shoe_size"])


def test_version_1_parameters_still_encode_their_21_columns() -> None:
    """A champion registered before group survival existed can still be scored on a new test split."""
    params = features.fit(GROUPS)
    v1 = {k: v for k, v in params.items() if k not in ("ticket_groups", "family_groups")}
    v1.update(encoding_version=1, feature_names=list(features.ALL_FEATURE_NAMES[:21]))
    assert features.encode(GROUPS, v1).shape == (4, 21)
