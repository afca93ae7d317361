"""The sort-once statistics equal scipy's, ties and reused scratch arrays included."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from agentgov.evals import drift_stats as stats


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        pytest.param([0.0, 1.0, 1.0, 2.0, 5.0], [1.0, 1.0, 3.0], id="ties-across-samples"),
        pytest.param([2.0, 2.0, 2.0], [2.0, 2.0], id="all-equal"),
        pytest.param([0.0, 1.0], [10.0, 11.0, 12.0], id="disjoint"),
    ],
)
def test_merge_gives_scipys_wasserstein_and_ks_statistic(ref: list[float], cur: list[float]) -> None:
    work = stats.Workspace()
    ref_sorted, cur_sorted = np.sort(ref), np.sort(cur)
    merged = stats.merge_sorted(ref_sorted, cur_sorted, work)
    assert merged.values.tolist() == sorted(ref + cur)
    std = stats.pandas_std(np.asarray(ref), work)
    expected = scipy_stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
    assert stats.wasserstein_norm(merged, std, work) == pytest.approx(expected, rel=1e-12, abs=0)
    assert stats.ks_statistic(merged, merged.run_ends()) == scipy_stats.ks_2samp(ref, cur).statistic


def test_counts_from_the_merge_count_each_distinct_value() -> None:
    work = stats.Workspace()
    merged = stats.merge_sorted(np.array([1.0, 1.0, 2.0]), np.array([2.0, 3.0, 3.0, 3.0]), work)
    counts = stats.counts_from_merged(merged, merged.run_ends())
    assert counts.keys == [1.0, 2.0, 3.0]
    assert counts.ref.tolist() == [2, 1, 0] and counts.cur.tolist() == [0, 1, 3]


def test_a_workspace_serves_columns_of_any_size_in_turn() -> None:
    rng = np.random.default_rng(0)
    work = stats.Workspace()
    for size in (500, 2000, 300, 2000):
        ref, cur = rng.normal(size=size), rng.normal(0.5, 1.0, size + 7)
        merged = stats.merge_sorted(work.sorted_copy("ref", ref), work.sorted_copy("cur", cur), work)
        expected = scipy_stats.wasserstein_distance(ref, cur) / float(np.std(ref))
        got = stats.wasserstein_norm(merged, stats.pandas_std(ref, work), work)
        assert got == pytest.approx(expected, rel=1e-12, abs=0)
