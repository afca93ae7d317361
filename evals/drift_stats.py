"""The drift statistics Evidently 0.7.23 computes, on arrays that are sorted or counted once.

Each function reproduces one module of ``evidently.legacy.calculations.stattests``
(and the scipy call inside it) so the scores match Evidently's to rounding, but
works from data prepared once per column: numeric columns are sorted once and
merged in linear time, which is all the Wasserstein distance, the
Kolmogorov-Smirnov statistic, the unique-value count and the histograms need;
categorical columns are counted once per category.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# scipy's ks_2samp is exact up to this many rows on either side, asymptotic above.
KS_EXACT_MAX_N = 10_000


class Workspace:
    """Scratch arrays reused from column to column.

    Arrays freed and allocated again for every column cost more in page faults
    than the arithmetic on them below a few MB; one workspace per evaluation
    keeps them mapped.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}
        self._ramp = np.empty(0)

    def get(self, name: str, size: int, dtype: Any = np.float64) -> np.ndarray:
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size or buffer.dtype != np.dtype(dtype):
            buffer = self._buffers[name] = np.empty(size, dtype=dtype)
        return buffer[:size]

    def ramp(self, size: int) -> np.ndarray:
        """1.0, 2.0, ... size."""
        if self._ramp.size < size:
            self._ramp = np.arange(1, size + 1, dtype=np.float64)
        return self._ramp[:size]

    def sorted_copy(self, name: str, values: np.ndarray) -> np.ndarray:
        copy = self.get(name, values.size)
        copy[...] = values
        copy.sort()
        return copy


@dataclass(frozen=True)
class Merged:
    """Two sorted samples merged: ``values`` sorted, ``deltas`` between neighbours, and
    for each position how many of the current values lie at or before it (the rest up
    to that position are reference values). Views into a :class:`Workspace`."""

    values: np.ndarray
    deltas: np.ndarray
    cur_cum: np.ndarray
    n_ref: int
    n_cur: int

    def run_ends(self) -> np.ndarray:
        """Index of the last element of each run of equal values."""
        return np.append(np.flatnonzero(self.deltas), self.values.size - 1)

    def ref_cum_at(self, positions: np.ndarray) -> np.ndarray:
        return positions + 1 - self.cur_cum[positions]


def merge_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray, work: Workspace) -> Merged:
    size = ref_sorted.size + cur_sorted.size
    both = np.concatenate((ref_sorted, cur_sorted), out=work.get("both", size))
    # A stable argsort of two sorted runs is a linear merge (timsort), cheaper than
    # searching one array for the other's values.
    order = np.argsort(both, kind="stable")
    values = np.take(both, order, out=work.get("values", size), mode="clip")  # in range: no bounds checks
    from_current = np.greater_equal(order, ref_sorted.size, out=work.get("from_current", size, np.bool_))
    del order
    # numpy's cumsum of booleans into int32 is several times faster than into int64.
    count_type = np.int32 if size < np.iinfo(np.int32).max else np.int64
    cur_cum = np.cumsum(from_current, dtype=count_type, out=work.get("cur_cum", size, count_type))
    deltas = np.subtract(values[1:], values[:-1], out=work.get("deltas", size - 1))
    return Merged(values, deltas, cur_cum, ref_sorted.size, cur_sorted.size)


def pandas_std(values: np.ndarray, work: Workspace) -> float:
    """Population standard deviation the way ``np.std(pd.Series)`` (pandas' nanvar) computes it."""
    avg = values.sum(dtype=np.float64) / values.size
    squares = np.subtract(avg, values, out=work.get("squares", values.size))
    np.square(squares, out=squares)
    return float(np.sqrt(squares.sum(dtype=np.float64) / values.size))


def wasserstein_norm(merged: Merged, ref_std: float, work: Workspace) -> float:
    """``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref), 0.001)``.

    scipy evaluates both CDFs at every merged value; inside a run of equal values
    the CDF here is partial, but there the delta is 0, so every product is the same.
    """
    cur_cum = merged.cur_cum[:-1]
    size = cur_cum.size
    ref_cdf = np.subtract(work.ramp(size), cur_cum, out=work.get("ref_cdf", size))  # reference counts, exact
    ref_cdf /= merged.n_ref
    cur_cdf = np.divide(cur_cum, merged.n_cur, out=work.get("cur_cdf", size))
    ref_cdf -= cur_cdf
    np.abs(ref_cdf, out=ref_cdf)
    # scipy takes np.vecdot here. That is an OpenBLAS dot, whose idle threads keep
    # spinning after the call and slow everything after it on a small machine; a
    # pairwise sum of the same products differs from it by rounding only (~1e-16).
    ref_cdf *= merged.deltas
    distance = float(ref_cdf.sum())
    return distance / max(ref_std, 0.001)


def ks_statistic(merged: Merged, ends: np.ndarray) -> float:
    """Two-sided KS statistic ``D``, as ``scipy.stats.ks_2samp`` computes it."""
    diffs = merged.ref_cum_at(ends) / merged.n_ref - merged.cur_cum[ends] / merged.n_cur
    min_s = float(np.clip(-diffs.min(), 0, 1))
    max_s = float(diffs.max())
    return min_s if min_s > max_s else max_s


def ks_pvalue(merged: Merged, ends: np.ndarray, ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    n1, n2 = merged.n_ref, merged.n_cur
    if max(n1, n2) <= KS_EXACT_MAX_N:
        from scipy.stats import ks_2samp

        # The exact p-value (scipy's private path counting lattice paths) on small data.
        return float(ks_2samp(ref_sorted, cur_sorted)[1])
    from scipy.stats import distributions

    d = ks_statistic(merged, ends)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(distributions.kstwo.sf(d, np.round(en)), 0, 1))


@dataclass(frozen=True)
class Counts:
    """Occurrences of each distinct value (``keys``) in the reference and the current data."""

    keys: list[Any]
    ref: np.ndarray
    cur: np.ndarray

    @property
    def n_ref(self) -> int:
        return int(self.ref.sum())

    @property
    def n_cur(self) -> int:
        return int(self.cur.sum())


def counts_from_merged(merged: Merged, ends: np.ndarray) -> Counts:
    ref_at_ends = merged.ref_cum_at(ends)
    cur_at_ends = merged.cur_cum[ends]
    ref = np.diff(ref_at_ends, prepend=0)
    cur = np.diff(cur_at_ends, prepend=0)
    return Counts(merged.values[ends].tolist(), ref, cur)


def counts_from_codes(ref_codes: np.ndarray, cur_codes: np.ndarray, keys: list[Any]) -> Counts:
    k = len(keys)
    return Counts(keys, np.bincount(ref_codes, minlength=k), np.bincount(cur_codes, minlength=k))


def chisquare_pvalue(counts: Counts) -> float:
    from scipy.stats import chisquare

    k_norm = counts.n_cur / counts.n_ref
    f_exp = [int(c) * k_norm for c in counts.ref]
    f_obs = [int(c) for c in counts.cur]
    return float(chisquare(f_obs, f_exp)[1])


def z_pvalue(counts: Counts) -> float:
    """Evidently's two-proportion z-test: the smallest key against all the others."""
    from scipy.stats import norm

    n1, n2 = counts.n_ref, counts.n_cur
    ref_present = counts.ref > 0
    cur_present = counts.cur > 0
    if ref_present.sum() == 1 and cur_present.sum() == 1 and np.array_equal(ref_present, cur_present):
        return 1.0
    first = min(range(len(counts.keys)), key=lambda i: counts.keys[i])
    p1 = float(n1 - int(counts.ref[first])) / n1
    p2 = float(n2 - int(counts.cur[first])) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def percents_from_counts(counts: Counts) -> tuple[np.ndarray, np.ndarray]:
    return counts.ref / counts.n_ref, counts.cur / counts.n_cur


def sturges_percents(merged: Merged, ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's numeric binning: Sturges bins over both samples, shares of each sample per bin.

    ``np.histogram`` with explicit edges counts by searching the sorted data for the
    edges (last bin closed), which is done here on the arrays already sorted.
    """
    edges = np.histogram_bin_edges(merged.values, bins="sturges")

    def shares(data: np.ndarray) -> np.ndarray:
        cum = np.concatenate(
            (np.searchsorted(data, edges[:-1], side="left"), np.searchsorted(data, edges[-1:], side="right"))
        )
        return np.diff(cum) / data.size

    return shares(ref_sorted), shares(cur_sorted)


def fill_zeroes(percents: np.ndarray) -> np.ndarray:
    """Evidently's ``feel_zeroes``: replace empty bins by a small share so PSI stays finite."""
    percents = percents.copy()
    smallest = float(percents[percents != 0].min())
    np.place(percents, percents == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return percents


def jensenshannon(ref_percents: np.ndarray, cur_percents: np.ndarray) -> float:
    from scipy.spatial import distance

    return float(distance.jensenshannon(ref_percents, cur_percents, None))


def psi(ref_percents: np.ndarray, cur_percents: np.ndarray) -> float:
    ref_percents, cur_percents = fill_zeroes(ref_percents), fill_zeroes(cur_percents)
    return float(np.sum((ref_percents - cur_percents) * np.log(ref_percents / cur_percents)))
