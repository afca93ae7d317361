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


def test_values_near_the_float_limit_are_rescaled_exactly() -> None:
    ref, cur = np.array([1e308, -1.5e308, 3.0]), np.array([1.7e308, 0.0])
    scaled_ref, scaled_cur, exponent = stats.rescale(ref, cur)
    assert exponent == 1024 and np.all(np.abs(scaled_ref) <= 1) and np.all(np.abs(scaled_cur) <= 1)
    assert (np.ldexp(scaled_ref, exponent) == ref).all() and (np.ldexp(scaled_cur, exponent) == cur).all()
    assert np.isfinite(stats.pandas_std(scaled_ref, stats.Workspace())) and not np.isfinite(np.std(ref))
    plain = np.array([1.0, 2.0])
    assert stats.rescale(plain, plain)[2] == 0 and stats.rescale(plain, plain)[0] is plain


def test_the_two_sample_chisquare_simulates_scipys_test_of_homogeneity() -> None:
    counts = stats.Counts(["a", "b", "c"], np.array([50, 30, 20]), np.array([40, 40, 20]))
    asymptotic = scipy_stats.chi2_contingency(np.array([[50, 30, 20], [40, 40, 20]]))[1]
    assert stats.chisquare_two_sample_pvalue(counts) == pytest.approx(asymptotic, abs=0.03)
    assert stats.chisquare_two_sample_pvalue(counts) == stats.chisquare_two_sample_pvalue(counts)  # seeded
    # One row of a value the reference lacks: the goodness-of-fit test says p = 0, the two-sample test nothing much.
    rare = stats.Counts(["a", "b", "new"], np.array([60, 40, 0]), np.array([59, 40, 1]))
    assert stats.chisquare_pvalue(rare) == 0.0
    assert stats.chisquare_two_sample_pvalue(rare) > 0.5
    # Many new values are a difference: the smallest p-value there is.
    disjoint = stats.Counts(list("abcdefgh"), np.array([25, 25, 25, 25, 0, 0, 0, 0]), np.array([0, 0, 0, 0, 1, 1, 1, 97]))
    assert stats.chisquare_two_sample_pvalue(disjoint) == 1 / 2000
    assert stats.chisquare_two_sample_pvalue(stats.Counts(["a"], np.array([5]), np.array([7]))) == 1.0


def test_the_two_sample_chisquare_holds_its_level_on_many_rare_categories() -> None:
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.full(37, 0.7))  # 37 categories, many rare, like the example's subjects
    p_values = []
    for seed in range(1000):
        ref, cur = rng.multinomial(400, shares), rng.multinomial(400, shares)
        p_values.append(stats.chisquare_two_sample_pvalue(stats.Counts(list(range(37)), ref, cur), simulations=499, seed=seed))
    assert np.mean(np.array(p_values) <= 0.05) <= 0.06  # the asymptotic p-value: about 0.07


def test_total_variation_and_the_z_test_on_values_of_mixed_types() -> None:
    counts = stats.Counts(["a", 1], np.array([30, 70]), np.array([50, 50]))
    assert stats.total_variation(counts) == pytest.approx(0.2)
    assert 0 < stats.z_pvalue(counts) < 0.01
