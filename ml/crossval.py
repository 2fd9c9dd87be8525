"""Repeated stratified cross-validation with the features fitted inside each fold.

The group-survival feature is learnt from labels, so fitting it on all rows and then cross-validating would let a
held-out passenger's label reach the training folds. Here every fold fits ml/features.py on its training part
only (leave-one-out encoded) and encodes its held-out part the way inference does. The gender rule is scored on
the same held-out parts, so each fold's gain over it is a paired difference.
Used by TrainModel (the cv scores in metadata.json) and by `make model-selection`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold

from ml import features, gender_rule, schema

SUMMARY_KEYS = (
    "cv_accuracy_mean",
    "cv_accuracy_std",
    "cv_gender_accuracy_mean",
    "cv_gain_over_gender_mean",
    "cv_gain_over_gender_std",
)


@dataclass(frozen=True)
class FoldScores:
    """Accuracy of the model and of the gender rule on each held-out fold (same order, same passengers)."""

    model: tuple[float, ...]
    gender: tuple[float, ...]

    @property
    def gains(self) -> np.ndarray:
        return np.array(self.model) - np.array(self.gender)

    def summary(self) -> dict[str, float]:
        """Mean and spread of the model's accuracy, the gender rule's, and the paired gain (SUMMARY_KEYS)."""
        values = (np.mean(self.model), np.std(self.model), np.mean(self.gender), self.gains.mean(), self.gains.std())
        return {key: round(float(value), 6) for key, value in zip(SUMMARY_KEYS, values)}


def labels(records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.array([record[schema.LABEL] for record in records], dtype=np.int64)


def fold_scores(
    records: Sequence[Mapping[str, Any]],
    build_estimator: Callable[[], Any],
    *,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 42,
    feature_names: Sequence[str] = features.FEATURE_NAMES,
) -> FoldScores:
    """`repeats` x `folds` held-out accuracies; each repeat shuffles with its own seed (derived from `seed`)."""
    y = labels(records)
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    model_scores, gender_scores = [], []
    for train_index, test_index in splitter.split(np.zeros((len(y), 1)), y):
        train_part = [records[i] for i in train_index]
        held_out = [records[i] for i in test_index]
        params, x_train = features.fit_encode(train_part, feature_names)
        estimator = build_estimator().fit(x_train, y[train_index])
        model_scores.append(float(estimator.score(features.encode(held_out, params), y[test_index])))
        gender_scores.append(float(np.mean(gender_rule.predict(held_out) == y[test_index])))
    return FoldScores(tuple(model_scores), tuple(gender_scores))
