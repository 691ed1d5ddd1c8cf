"""Detection metrics at a fixed inspection capacity, and the ranking-free ones (PR-AUC, calibration).

Capacity is fixed, so what counts is the quality of the top of the ranking: per port and day, the k
containers a policy would scan (k = the port's daily capacity), and how many of them are illicit.
Summed over days: precision@k = hits / scans, recall@k = hits / illicit containers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


def top_k_mask(group: np.ndarray, priority: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Rows among the ``k[group]`` highest ``priority`` of their group (ties: earlier rows first)."""
    order = np.lexsort((np.arange(group.size), -priority, group))
    sorted_group = group[order]
    rank = np.arange(group.size) - np.searchsorted(sorted_group, sorted_group, side="left")
    chosen = np.zeros(group.size, dtype=bool)
    chosen[order] = rank < k[sorted_group]
    return chosen


@dataclass(frozen=True)
class AtCapacity:
    """A selection's outcome over a period: scans, hits and the illicit containers there were."""

    scans: int
    hits: int
    illicit: int

    @property
    def precision(self) -> float:
        """Share of scans that found an illicit container (truth)."""
        return self.hits / self.scans if self.scans else 0.0

    @property
    def recall(self) -> float:
        """Share of the illicit containers that were scanned."""
        return self.hits / self.illicit if self.illicit else 0.0


def at_capacity(selected: np.ndarray, illicit: np.ndarray) -> AtCapacity:
    """Scans, hits and illicit count of a boolean selection."""
    return AtCapacity(int(selected.sum()), int((selected & illicit).sum()), int(illicit.sum()))


def random_precision(group: np.ndarray, illicit: np.ndarray, k: np.ndarray) -> float:
    """Expected precision of drawing ``k`` containers at random per group: capacity-weighted base rate."""
    n = np.bincount(group, minlength=k.size)
    hits = np.bincount(group, weights=illicit.astype(float), minlength=k.size)
    scans = np.minimum(k, n)
    rate = np.divide(hits, n, out=np.zeros(k.size), where=n > 0)
    return float((scans * rate).sum() / scans.sum()) if scans.sum() else 0.0


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision; ties broken pessimistically)."""
    if not positive.any():
        return float("nan")
    order = np.lexsort((positive, -scores))  # among equal scores, negatives first
    hits = np.cumsum(positive[order])
    precision = hits / np.arange(1, scores.size + 1)
    return float(precision[positive[order]].sum() / positive.sum())


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    # Average rank within runs of equal scores.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], scores.size]
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration(scores: np.ndarray, positive: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted versus observed rate in equal-count bins of the score (highest bin last)."""
    order = np.argsort(scores, kind="stable")
    table = []
    for part in np.array_split(order, bins):
        if part.size:
            table.append({"n": int(part.size), "predicted": float(scores[part].mean()),
                          "observed": float(positive[part].mean()), "max_score": float(scores[part].max())})
    return table


def top_calibration(scores: np.ndarray, positive: np.ndarray, shares: tuple[float, ...] = (0.001, 0.01, 0.1)
                    ) -> list[dict[str, float]]:
    """Predicted versus observed rate in the top shares of the ranking, where selection happens."""
    order = np.argsort(-scores, kind="stable")
    rows = []
    for share in shares:
        top = order[: max(int(scores.size * share), 1)]
        rows.append({"top_share": share, "n": int(top.size), "predicted": float(scores[top].mean()),
                     "observed": float(positive[top].mean())})
    return rows


def expected_hits(priority: np.ndarray, positive: np.ndarray, k: int) -> float:
    """Positives among the ``k`` highest ``priority``, ties at the cut broken at random (in expectation).

    A baseline such as a party's past finding rate gives many rows the same value; taking "the first"
    of them would reward or punish it for the row order. NaN ranks lowest.
    """
    if k <= 0 or priority.size == 0:
        return 0.0
    k = min(k, priority.size)
    values = np.where(np.isnan(priority), -np.inf, priority)
    cut = np.partition(values, values.size - k)[values.size - k]  # the k-th highest value
    above, tied = values > cut, values == cut
    return float(positive[above].sum() + (k - above.sum()) * positive[tied].sum() / tied.sum())


def day_bootstrap(group: np.ndarray, illicit: np.ndarray, selections: Mapping[str, np.ndarray],
                  ratios: Mapping[str, tuple[str, str]], resamples: int = 2000, level: float = 0.95,
                  seed: int = 0) -> dict[str, tuple[float, float] | None]:
    """Percentile intervals for precision at capacity and ratios of precisions, days resampled.

    The days of the period are drawn with replacement ``resamples`` times; each draw sums every
    selection's hits and scans over the same days, so a ratio (the model's precision over the legacy
    policy's, over the oracle's) is judged on paired days, which is far tighter than two separate
    intervals would suggest. The interval says how much the figure depends on which days the period
    happened to hold — not how much it would move with another training run, which resampling days
    cannot show. ``selections``: name -> boolean mask over the rows; ``ratios``: name -> (numerator,
    denominator) selection names. A ratio whose denominator found nothing in some draw has no interval
    (None); so has everything when the period has fewer than two days.
    """
    if not 0.0 < level < 1.0 or resamples < 1:
        raise ValueError(f"level must lie in (0, 1) and resamples be positive, got {level} and {resamples}")
    days = int(group.max()) + 1 if group.size else 0
    if days < 2:
        return {name: None for name in [*selections, *ratios]}
    draws = np.random.default_rng(seed).integers(0, days, size=(resamples, days))
    precision: dict[str, np.ndarray] = {}
    for name, chosen in selections.items():
        scans = np.bincount(group, weights=chosen.astype(float), minlength=days)[draws].sum(axis=1)
        hits = np.bincount(group, weights=(chosen & illicit).astype(float), minlength=days)[draws].sum(axis=1)
        precision[name] = np.divide(hits, scans, out=np.zeros(resamples), where=scans > 0)
    tail = (1.0 - level) / 2.0 * 100.0
    out: dict[str, tuple[float, float] | None] = {}
    for name, values in precision.items():
        out[name] = _percentiles(values, tail)
    for name, (numerator, denominator) in ratios.items():
        below = precision[denominator]
        out[name] = None if (below <= 0).any() else _percentiles(precision[numerator] / below, tail)
    return out


def _percentiles(values: np.ndarray, tail: float) -> tuple[float, float]:
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
