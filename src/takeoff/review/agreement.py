"""Agreement between reviewers (pure): per score, the share of reviewer pairs on one item that gave the same value,
and Krippendorff's alpha (interval distance; any number of reviewers per item, missing reviews allowed).

No well-kept agreement library is installed (scikit-learn's Cohen's kappa takes exactly two raters over the same
items, which a queue with N reviews per item and changing reviewers does not give), so alpha is computed here from
its definition: alpha = 1 - D_o / D_e over the pairable values (items with at least two reviews)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    """One score's agreement over the items with several reviews: how many items and reviewer pairs it rests on,
    the share of pairs in exact agreement, and Krippendorff's alpha (None when there is no variation at all)."""

    items: int
    pairs: int
    exact: float | None
    alpha: float | None


def agreement(units: Sequence[Sequence[float]]) -> Agreement:
    """Agreement over units (one list of reviewers' values per item); items with fewer than two values are left out."""
    pairable = [list(map(float, u)) for u in units if len(u) >= 2]
    if not pairable:
        return Agreement(0, 0, None, None)
    pairs = same = 0
    for u in pairable:
        for i in range(len(u)):
            for j in range(i + 1, len(u)):
                pairs += 1
                same += u[i] == u[j]
    return Agreement(len(pairable), pairs, same / pairs, krippendorff_alpha(pairable))


def krippendorff_alpha(units: Sequence[Sequence[float]]) -> float | None:
    """Krippendorff's alpha with the interval distance (a - b)^2; None when every value is the same (D_e = 0)."""
    pairable = [list(map(float, u)) for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    if n < 2:
        return None
    observed = 0.0
    for u in pairable:
        m = len(u)
        observed += sum((a - b) ** 2 for i, a in enumerate(u) for j, b in enumerate(u) if i != j) / (m - 1)
    observed /= n
    # sum over ordered pairs of all values of (a - b)^2 = 2 * (n * sum(v^2) - sum(v)^2)
    total, squares = sum(values), sum(v * v for v in values)
    expected = 2 * (n * squares - total * total) / (n * (n - 1))
    if expected <= 1e-12:
        return None
    return 1.0 - observed / expected
