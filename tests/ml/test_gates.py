"""ml/gates.py: the quality gate (threshold and baseline margin) and the champion gate, on evaluation documents."""

from __future__ import annotations

import pytest

from ml import contracts, gates


def evaluation(accuracy: float, baseline: float) -> dict:
    """An evaluation.json with the given accuracy, its gender baseline and the lift, as ml/evaluate.py writes it."""
    return {
        contracts.METRICS_SECTION: {"accuracy": {"value": accuracy, "standard_deviation": "NaN"}},
        contracts.BASELINE_SECTION: {
            "rule": "gender",
            "accuracy": {"value": baseline, "standard_deviation": "NaN"},
            "lift": {"accuracy": round(accuracy - baseline, 6)},
        },
    }


@pytest.mark.parametrize(
    ("accuracy", "baseline", "passed", "words"),
    [
        (0.872, 0.842, True, "accuracy 0.872 >= 0.78, lift over the gender rule (0.842) +0.030 >= 0.02"),
        (0.862105, 0.842105, True, "+0.020 >= 0.02"),  # exactly the margin passes despite float noise
        (0.85, 0.84, False, "+0.010 < 0.02: short of the baseline margin"),
        (0.77, 0.70, False, "0.770 < 0.78, lift over the gender rule (0.700) +0.070 >= 0.02: below the threshold"),
        (0.75, 0.76, False, "below the threshold and short of the baseline margin"),
    ],
)
def test_quality_gate_needs_the_threshold_and_the_margin(accuracy, baseline, passed, words) -> None:
    verdict = gates.quality_gate(evaluation(accuracy, baseline), "accuracy", 0.78, 0.02)
    assert verdict.passed is passed
    assert words in verdict.reason


def test_quality_gate_reads_the_paths_the_pipeline_reads() -> None:
    document = evaluation(0.9, 0.8)
    del document[contracts.BASELINE_SECTION]["lift"]
    with pytest.raises(KeyError):
        gates.quality_gate(document, "accuracy", 0.78, 0.02)


@pytest.mark.parametrize(
    ("candidate", "champion", "passed", "words"),
    [
        (0.872, 0.872, True, "accuracy 0.872 vs champion v3 0.872 on the same test split (within the tolerance 0.01)"),
        (0.863, 0.872, True, "within the tolerance"),
        (0.90, 0.872, True, "within the tolerance"),
        (0.85, 0.872, False, "beyond the tolerance 0.01): worse than the champion by 0.022"),
    ],
)
def test_champion_gate_allows_at_most_the_tolerance(candidate, champion, passed, words) -> None:
    verdict = gates.champion_gate(
        evaluation(candidate, 0.8), evaluation(champion, 0.8), "accuracy", 0.01, "champion v3"
    )
    assert verdict.passed is passed
    assert words in verdict.reason
