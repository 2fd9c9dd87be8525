"""How the model was chosen (make model-selection): repeated stratified cross-validation, never one split.

All non-test passengers of the default split (train + validation, seed 42: 758 rows) are cross-validated 5-fold,
10 times with different shuffles; ml/crossval.py fits the features inside each fold (group survival leave-one-out)
and scores the gender rule on the same held-out folds, so "gain" is a paired difference. The test split is never
looked at. Three tables: estimators on the chosen features, a feature ablation with the chosen estimator, and the
final procedure (fit on train + validation, score the test split) on the test splits of other seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ml import crossval, dataset, features, gender_rule, preprocess, train
from ml.local import registry

DATA = registry.REPO_ROOT / "data" / "titanic.csv"


def chosen_estimator() -> Any:
    """TrainModel's estimator with its default hyperparameters (what make run trains)."""
    return train.build_estimator(train.hyperparameters(train.parse_args([])))


def logistic(c: float) -> Callable[[], Any]:
    return lambda: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))


CHOSEN = "logistic regression (scaled, C=0.1)"
CANDIDATES: dict[str, Callable[[], Any]] = {
    "logistic regression (scaled, C=1)": logistic(1.0),
    CHOSEN: chosen_estimator,
    "logistic regression (scaled, C=0.03)": logistic(0.03),
    "random forest (200 trees, depth 6)": lambda: RandomForestClassifier(200, max_depth=6, random_state=42),
    "hist gradient boosting (depth 3)": lambda: HistGradientBoostingClassifier(
        max_depth=3, learning_rate=0.05, random_state=42
    ),
    "gradient boosting (100 trees, depth 3)": lambda: GradientBoostingClassifier(random_state=42),
    "gradient boosting (200 trees, depth 2, lr 0.05)": lambda: GradientBoostingClassifier(
        n_estimators=200, max_depth=2, learning_rate=0.05, random_state=42
    ),
}
_CHOSEN = list(features.FEATURE_NAMES)
_PREVIOUS = list(features.ALL_FEATURE_NAMES[:21])  # the encoding-version-1 model's 21 features
_DECK = [f"deck_{band}" for band, _ in features.DECK_BANDS]
_TITLES = [f"title_{t}" for t in features.TITLES]
ABLATION: dict[str, list[str]] = {
    f"chosen ({len(_CHOSEN)} features)": _CHOSEN,
    "- group_survival": [n for n in _CHOSEN if n != "group_survival"],
    "- title": [n for n in _CHOSEN if n not in _TITLES],
    "- age": [n for n in _CHOSEN if n != "age"],
    "- title, - age": [n for n in _CHOSEN if n not in _TITLES and n != "age"],
    "- family_size": [n for n in _CHOSEN if n != "family_size"],
    "+ log_fare_per_person": [*_CHOSEN, "log_fare_per_person"],
    "+ log_fare": [*_CHOSEN, "log_fare"],
    "+ deck bands": _CHOSEN + _DECK,
    "+ embarked, has_cabin": [*_CHOSEN, "embarked_C", "embarked_Q", "embarked_S", "has_cabin"],
    "+ sibsp, parch, is_alone, is_child": [*_CHOSEN, "sibsp", "parch", "is_alone", "is_child"],
    "previous model's 21 features": _PREVIOUS,
    "previous 21 + group_survival": [*_PREVIOUS, "group_survival"],
}


def split(seed: int) -> dict[str, list[dict]]:
    """The same split DataPreProcessing writes for this seed (its default fractions)."""
    records, _ = dataset.read_records(DATA)
    return preprocess.stratified_split(records, 0.70, 0.15, seed)


def one_row_latency_us(build: Callable[[], Any], records: list[dict]) -> float:
    _params, x = features.fit_encode(records)
    model = build().fit(x, crossval.labels(records))
    one = x[:1]
    samples = []
    for _ in range(300):
        start = time.perf_counter()
        model.predict_proba(one)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def row(label: str, scores: crossval.FoldScores, extra: str = "") -> str:
    summary = scores.summary()
    return (
        f"{label:50}{summary['cv_accuracy_mean']:>8.3f} ±{summary['cv_accuracy_std']:.3f}"
        f"{summary['cv_gender_accuracy_mean']:>10.3f}"
        f"{summary['cv_gain_over_gender_mean']:>+10.3f} ±{summary['cv_gain_over_gender_std']:.3f}{extra}"
    )


def versus(scores: crossval.FoldScores, reference: crossval.FoldScores) -> str:
    """Paired difference with the reference over the same folds: mean and standard error."""
    difference = np.array(scores.model) - np.array(reference.model)
    return f"{difference.mean():>+10.3f} ±{difference.std() / np.sqrt(len(difference)):.3f}"


HEADER = f"{'':50}{'accuracy':>15}{'gender':>10}{'gain over gender':>17}"


def estimator_table(cv: Callable[..., crossval.FoldScores], records: list[dict]) -> None:
    print("1. estimators on the chosen features\n")
    print(HEADER + f"{'vs chosen':>17}{'1-row predict_proba':>22}")
    chosen = cv(chosen_estimator)
    for name, build in CANDIDATES.items():
        scores = chosen if name == CHOSEN else cv(build)
        latency = f"{one_row_latency_us(build, records):>16.0f} us"
        print(row(name + (" *" if name == CHOSEN else ""), scores, versus(scores, chosen) + latency), flush=True)


def ablation_table(cv: Callable[..., crossval.FoldScores]) -> None:
    print(f"\n2. feature ablation with {CHOSEN}; vs chosen = paired difference, ± its standard error\n")
    print(HEADER + f"{'vs chosen':>17}")
    reference = cv(chosen_estimator, _CHOSEN)
    for label, names in ABLATION.items():
        scores = reference if names == _CHOSEN else cv(chosen_estimator, names)
        print(row(label + (" *" if names == _CHOSEN else ""), scores, versus(scores, reference)), flush=True)


def seeds_table() -> None:
    print("\n3. the final procedure (fit on train + validation) on the held-out test split of other seeds\n")
    print(f"{'seed':>6}{'test accuracy':>16}{'gender rule':>14}{'lift':>9}")
    results = []
    for seed in (1, 2, 3, 4, 5, 6, 7, 8, 9, 42):
        seed_parts = split(seed)
        fitted = seed_parts["train"] + seed_parts["validation"]
        params, x = features.fit_encode(fitted)
        model = chosen_estimator().fit(x, crossval.labels(fitted))
        test = seed_parts["test"]
        y_test = crossval.labels(test)
        accuracy = float(model.score(features.encode(test, params), y_test))
        baseline = float(np.mean(gender_rule.predict(test) == y_test))
        results.append((accuracy, baseline))
        print(f"{seed:>6}{accuracy:>16.3f}{baseline:>14.3f}{accuracy - baseline:>+9.3f}")
    mean_accuracy = statistics.mean(a for a, _ in results)
    mean_baseline = statistics.mean(b for _, b in results)
    print(f"{'mean':>6}{mean_accuracy:>16.3f}{mean_baseline:>14.3f}{mean_accuracy - mean_baseline:>+9.3f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42, help="seed of the shuffles (another seed: other folds)")
    parser.add_argument("--part", choices=("all", "estimators", "ablation", "seeds"), default="all")
    args = parser.parse_args(argv)
    parts = split(42)
    records = parts["train"] + parts["validation"]

    def cv(build: Callable[[], Any], names: Sequence[str] = features.FEATURE_NAMES) -> crossval.FoldScores:
        return crossval.fold_scores(
            records, build, folds=args.folds, repeats=args.repeats, seed=args.seed, feature_names=names
        )

    runs = args.folds * args.repeats
    print(
        f"repeated stratified cross-validation: {args.folds} folds x {args.repeats} shuffles = {runs} held-out "
        f"folds (shuffle seed {args.seed}) over the {len(records)} non-test passengers (train + validation of "
        "split seed 42); * = chosen\n"
    )
    if args.part in ("all", "estimators"):
        estimator_table(cv, records)
    if args.part in ("all", "ablation"):
        ablation_table(cv)
    if args.part in ("all", "seeds"):
        seeds_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
