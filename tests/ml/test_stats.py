"""ml/stats.py: the standard-library statistics of the drift check, against scipy (installed with scikit-learn)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from ml import stats


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 7, 9, 10, 25])
@pytest.mark.parametrize("x", [0.001, 0.5, 2.0, 9.0, 21.7, 60.0, 250.0])
def test_chi2_survival_matches_scipy(x: float, dof: int) -> None:
    assert stats.chi2_sf(x, dof) == pytest.approx(scipy_stats.chi2.sf(x, dof), rel=1e-9, abs=1e-300)


def test_chi2_survival_edges() -> None:
    assert stats.chi2_sf(0.0, 3) == 1.0
    with pytest.raises(ValueError):
        stats.chi2_sf(1.0, 0)


def test_homogeneity_matches_scipy_and_drops_bins_empty_on_both_sides() -> None:
    reference, live = [10, 20, 30, 5, 0], [3, 9, 30, 12, 0]
    statistic, dof, p_value = stats.homogeneity(reference, live)
    expected = scipy_stats.chi2_contingency([reference[:4], live[:4]], correction=False)
    assert (statistic, dof) == (pytest.approx(expected.statistic), 3)
    assert p_value == pytest.approx(expected.pvalue)


def test_homogeneity_with_nothing_to_compare() -> None:
    assert stats.homogeneity([5, 0], [7, 0]) == (0.0, 0, 1.0)  # one bin left
    assert stats.homogeneity([5, 3], [0, 0]) == (0.0, 0, 1.0)  # no live values


def test_psi_is_zero_for_identical_shares_and_finite_with_empty_bins() -> None:
    assert stats.psi([10, 20, 30], [20, 40, 60]) == pytest.approx(0.0, abs=1e-3)
    value = stats.psi([100, 100, 0], [0, 100, 100])
    assert math.isfinite(value) and value > 2.0  # half the mass moved to a bin the reference never saw


def test_psi_with_the_pseudocount_by_hand() -> None:
    # 0.5 added to every bin: reference (9.5/21, 11.5/21), live (1.5/12, 10.5/12)
    expected = sum((live - ref) * math.log(live / ref) for ref, live in ((9.5 / 21, 1.5 / 12), (11.5 / 21, 10.5 / 12)))
    assert stats.psi([9, 11], [1, 10]) == pytest.approx(expected)
    with pytest.raises(ValueError):
        stats.psi([1, 2], [1])
