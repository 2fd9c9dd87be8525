"""The two promotion conditions, on evaluation.json documents (ml/evaluate.py), in one place.

- quality gate: the candidate's metric reaches the absolute threshold AND beats the gender rule on the same test
  split by at least the margin (read at the JsonGet paths of ml/contracts.py, which the SageMaker pipeline's
  condition reads too);
- champion gate: the candidate is not worse than the current champion, scored on the same test split, by more
  than the tolerance.
The values come from config (MlSettings: quality_metric, quality_threshold, baseline_margin, champion_tolerance).
Standard library only, Python 3.9: any runtime that holds ml/ can call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml import contracts

# evaluation.json values are rounded to 6 decimals: a lift of exactly the margin must pass despite float noise.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str  # one line that names the values compared; says why when refused


def _value(evaluation: Mapping[str, Any], path: str) -> float:
    return float(contracts.json_path_value(dict(evaluation), path))  # type: ignore[arg-type]


def quality_gate(evaluation: Mapping[str, Any], metric: str, threshold: float, baseline_margin: float) -> Verdict:
    """Threshold and baseline margin, both required."""
    value = _value(evaluation, contracts.metric_json_path(metric))
    baseline = _value(evaluation, contracts.baseline_json_path(metric))
    lift = _value(evaluation, contracts.baseline_lift_json_path(metric))
    rule = evaluation[contracts.BASELINE_SECTION][contracts.BASELINE_RULE_KEY]
    meets_threshold = value >= threshold - _TOLERANCE
    meets_margin = lift >= baseline_margin - _TOLERANCE
    detail = (
        f"{metric} {value:.3f} {'>=' if meets_threshold else '<'} {threshold:g}, "
        f"lift over the {rule} rule ({baseline:.3f}) {lift:+.3f} {'>=' if meets_margin else '<'} {baseline_margin:g}"
    )
    if meets_threshold and meets_margin:
        return Verdict(True, detail)
    failed = [("below the threshold", meets_threshold), ("short of the baseline margin", meets_margin)]
    return Verdict(False, f"{detail}: {' and '.join(name for name, ok in failed if not ok)}")


def champion_gate(
    candidate: Mapping[str, Any], champion: Mapping[str, Any], metric: str, tolerance: float, champion_label: str
) -> Verdict:
    """The candidate may be worse than the champion (both scored on the same test split) by at most `tolerance`."""
    value = _value(candidate, contracts.metric_json_path(metric))
    best = _value(champion, contracts.metric_json_path(metric))
    passed = value >= best - tolerance - _TOLERANCE
    detail = (
        f"{metric} {value:.3f} vs {champion_label} {best:.3f} on the same test split "
        f"({'within' if passed else 'beyond'} the tolerance {tolerance:g})"
    )
    if passed:
        return Verdict(True, detail)
    return Verdict(False, f"{detail}: worse than the champion by {best - value:.3f}")
