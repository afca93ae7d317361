"""Exact drift statistics, on arrays that are sorted or counted once.

The scores are the textbook ones, computed as the common drift tools compute
them (each matches ``evidently.legacy.calculations.stattests`` and the scipy
call inside it to rounding, which the Evidently plugin's tests check), but
from data prepared once per column: numeric columns are sorted once and merged
in linear time, which is all the Wasserstein distance, the Kolmogorov-Smirnov
statistic, the unique-value count and the histograms need; categorical
columns are counted once per category.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# scipy's ks_2samp is exact up to this many rows on either side, asymptotic above.
KS_EXACT_MAX_N = 10_000
BINNED_MIN_UNIQUE = 20  # numeric columns with more distinct reference values are binned (Sturges) for JS and PSI
STD_FLOOR = 0.001  # the normed Wasserstein distance divides by max(std, STD_FLOOR)
SAFE_MAGNITUDE = 2.0**500  # above this, squares and sums of the values overflow a float: rescale first
SIMULATIONS = 1999  # tables drawn for the two-sample chi-square's p-value (resolution 1/2000)


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


def rescale(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Both samples divided by the same power of two, ``2**exponent``, when their values are near the float limit.

    Multiplying by a power of two is exact, so ranks, ties, histograms and every
    scale-free score are unchanged, while the standard deviation no longer
    overflows (values of 1e308 square to infinity). Exponent 0 when no rescaling
    is needed; a quantity in the values' units (a floor, a scale) is rescaled
    with ``np.ldexp(quantity, -exponent)``.
    """
    largest = max(float(np.max(np.abs(ref))) if ref.size else 0.0, float(np.max(np.abs(cur))) if cur.size else 0.0)
    if largest <= SAFE_MAGNITUDE:
        return ref, cur, 0
    exponent = int(np.frexp(largest)[1])
    return np.ldexp(ref, -exponent), np.ldexp(cur, -exponent), exponent


def wasserstein(merged: Merged, work: Workspace) -> float:
    """``scipy.stats.wasserstein_distance(ref, cur)``: how far, on average, each value had to move."""
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
    return float(ref_cdf.sum())


def wasserstein_norm(merged: Merged, ref_std: float, work: Workspace, floor: float = STD_FLOOR) -> float:
    """``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref), 0.001)``.

    scipy evaluates both CDFs at every merged value; inside a run of equal values
    the CDF here is partial, but there the delta is 0, so every product is the same.
    ``floor`` is 0.001 in the values' units (pass it rescaled with the values).
    """
    return wasserstein(merged, work) / max(ref_std, floor)


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


def chisquare_two_sample_pvalue(counts: Counts, simulations: int = SIMULATIONS, seed: int = 0) -> float:
    """Pearson's chi-square test that the two samples come from one distribution, its p-value by simulation.

    :func:`chisquare_pvalue` takes the reference's shares as the truth and tests
    the current sample against them (goodness of fit): it ignores the
    reference's own sampling noise and gives p = 0 for any value the reference
    lacks, so two windows of one traffic "drift" far more often than the
    nominal level. Here the statistic is the 2 x k table's, and its p-value is
    the share of ``simulations`` tables, drawn with the same value totals and
    side sizes (the rows shuffled between the sides), whose statistic is at
    least as large: exact up to simulation error, however rare the values (the
    chi-square distribution is not, with many values seen a few times).
    Seeded, so the same data give the same score; the smallest p-value is
    ``1 / (simulations + 1)``.
    """
    table = np.vstack((counts.ref, counts.cur)).astype(np.int64)
    table = table[:, table.sum(axis=0) > 0]
    sides = table.sum(axis=1)
    if table.shape[1] < 2 or sides.min() == 0:
        return 1.0
    totals = table.sum(axis=0)
    expected = np.outer(sides, totals) / sides.sum()

    def statistic(ref: np.ndarray) -> np.ndarray:
        cur = totals - ref
        return ((ref - expected[0]) ** 2 / expected[0]).sum(axis=-1) + ((cur - expected[1]) ** 2 / expected[1]).sum(axis=-1)

    observed = float(statistic(table[0]))
    drawn = np.random.default_rng(seed).multivariate_hypergeometric(totals, int(sides[0]), size=simulations)
    as_large = int(np.count_nonzero(statistic(drawn) >= observed * (1 - 1e-12)))
    return (1 + as_large) / (simulations + 1)


def z_pvalue(counts: Counts) -> float:
    """The two-proportion z-test of the smallest key against all the others (values of mixed types: by type, then text)."""
    from scipy.stats import norm

    n1, n2 = counts.n_ref, counts.n_cur
    ref_present = counts.ref > 0
    cur_present = counts.cur > 0
    if ref_present.sum() == 1 and cur_present.sum() == 1 and np.array_equal(ref_present, cur_present):
        return 1.0
    try:
        first = min(range(len(counts.keys)), key=lambda i: counts.keys[i])
    except TypeError:  # 'a' and 1 do not compare
        first = min(range(len(counts.keys)), key=lambda i: (type(counts.keys[i]).__name__, str(counts.keys[i])))
    p1 = float(n1 - int(counts.ref[first])) / n1
    p2 = float(n2 - int(counts.cur[first])) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def percents_from_counts(counts: Counts) -> tuple[np.ndarray, np.ndarray]:
    return counts.ref / counts.n_ref, counts.cur / counts.n_cur


def total_variation(counts: Counts) -> float:
    """Half the summed difference of the two sides' shares: the share of rows that would have to change value."""
    ref_pct, cur_pct = percents_from_counts(counts)
    return float(np.abs(ref_pct - cur_pct).sum() / 2)


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


def numeric_percents(merged: Merged, ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two sides' shares for Jensen-Shannon or PSI on numbers: per Sturges bin when the reference
    has more than :data:`BINNED_MIN_UNIQUE` distinct values, else per value."""
    ref_unique = 1 + int(np.count_nonzero(np.diff(ref_sorted)))
    if ref_unique > BINNED_MIN_UNIQUE:
        return sturges_percents(merged, ref_sorted, cur_sorted)
    return percents_from_counts(counts_from_merged(merged, merged.run_ends()))
