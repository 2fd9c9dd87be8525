"""The two statistics of the drift check, in the standard library (the monitor Lambda has no scipy).

- Population stability index (PSI) between a reference and a live histogram: an effect size (how far the live
  distribution moved), comparable across features. Empty bins would make it infinite, so both histograms get
  PSI_PSEUDOCOUNT added to every bin before the proportions are taken (additive smoothing, the Jeffreys prior of a
  multinomial); an empty live bin where the reference expected ten values still adds a lot, as it should.
- Pearson's chi-square test of homogeneity on the same 2 x k table of counts, with its exact p-value for an integer
  number of degrees of freedom. Under "no change" PSI itself is about (1/n + 1/m) times a chi-square variable with
  k-1 degrees of freedom (Yurdakul & Naranjo, "Statistical properties of the population stability index", Journal of
  Risk Model Validation), so a fixed PSI cut-off alone raises false alarms on small samples and misses nothing on
  large ones; requiring both (PSI over its threshold AND p below the significance level) keeps the alarm for shifts
  that are both large and real. docs/06-observability-operations.md gives the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PSI_PSEUDOCOUNT = 0.5


def psi(reference: Sequence[int], live: Sequence[int], pseudocount: float = PSI_PSEUDOCOUNT) -> float:
    """Sum over bins of (live% - reference%) * ln(live% / reference%), both smoothed by `pseudocount` per bin."""
    if len(reference) != len(live) or not reference:
        raise ValueError("psi needs two histograms over the same bins")
    reference_total = sum(reference) + pseudocount * len(reference)
    live_total = sum(live) + pseudocount * len(live)
    total = 0.0
    for reference_count, live_count in zip(reference, live):
        expected = (reference_count + pseudocount) / reference_total
        observed = (live_count + pseudocount) / live_total
        total += (observed - expected) * math.log(observed / expected)
    return total


def homogeneity(reference: Sequence[int], live: Sequence[int]) -> tuple[float, int, float]:
    """Pearson chi-square test that two count vectors come from one distribution: (statistic, dof, p-value).

    Bins empty on both sides carry no information and are left out; with fewer than two bins left, or an empty side,
    there is nothing to test (statistic 0, p-value 1).
    """
    if len(reference) != len(live):
        raise ValueError("homogeneity needs two count vectors over the same bins")
    columns = [(r, v) for r, v in zip(reference, live) if r + v > 0]
    reference_total = sum(r for r, _ in columns)
    live_total = sum(v for _, v in columns)
    if len(columns) < 2 or reference_total == 0 or live_total == 0:
        return 0.0, 0, 1.0
    grand_total = reference_total + live_total
    statistic = 0.0
    for reference_count, live_count in columns:
        column_total = reference_count + live_count
        for observed, row_total in ((reference_count, reference_total), (live_count, live_total)):
            expected = row_total * column_total / grand_total
            statistic += (observed - expected) ** 2 / expected
    dof = len(columns) - 1
    return statistic, dof, chi2_sf(statistic, dof)


def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for X ~ chi-square(dof), dof a positive integer (closed forms through erfc and a finite sum)."""
    if dof < 1:
        raise ValueError("degrees of freedom must be a positive integer")
    if x <= 0:
        return 1.0
    half = x / 2.0
    if dof % 2 == 0:
        # Q(x; 2m) = exp(-x/2) * sum_{i<m} (x/2)^i / i!
        terms = (math.exp(i * math.log(half) - half - math.lgamma(i + 1)) for i in range(dof // 2))
        return min(1.0, math.fsum(terms))
    # Q(x; 2m+1) = erfc(sqrt(x/2)) + exp(-x/2) * sum_{j=1..m} (x/2)^(j-1/2) / Gamma(j+1/2)
    terms = (math.exp((j - 0.5) * math.log(half) - half - math.lgamma(j + 0.5)) for j in range(1, (dof - 1) // 2 + 1))
    return min(1.0, math.erfc(math.sqrt(half)) + math.fsum(terms))
