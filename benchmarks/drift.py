"""The exact drift engine against Evidently's DataDriftPreset and the sort-only bound, in one run.

    python benchmarks/drift.py [--rows 100000,1000000] [--columns 10] [--skip-evidently-above 1000000] [--repeat 3]

For each size: reference and current frames of normal data (N rows each, 3 of the
columns shifted by 0.1 sd in the current one). Times Evidently 0.7.23's
``Report([DataDriftPreset()]).run`` once, ``compute_drift`` and the lower bound
(``np.sort`` of the 2 x columns arrays, which any exact Wasserstein or KS must
pay) as the median of ``--repeat`` runs, and checks that every column gets the
same method and drifted verdict from both. Targets: the engine at least 20x
faster than the preset, and within 2x of the sort bound.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from agentgov.evals.drift_engine import compute_drift
from agentgov.evals.drift_result import DriftResult

SHIFTED = 3
SHIFT = 0.1


def make_data(rows: int, columns: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({f"x{i}": rng.normal(0.0, 1.0, rows) for i in range(columns)})
    current = pd.DataFrame({f"x{i}": rng.normal(SHIFT if i < SHIFTED else 0.0, 1.0, rows) for i in range(columns)})
    return reference, current


def timed(function: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def median_time(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    runs = [timed(function) for _ in range(repeat)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


def sort_bound(reference: pd.DataFrame, current: pd.DataFrame) -> None:
    for frame in (reference, current):
        for name in frame.columns:
            np.sort(frame[name].to_numpy())


def evidently_verdicts(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, tuple[str, float, bool]]:
    """column -> (stattest name, score, drifted) from a real DataDriftPreset report."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import Report
        from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
        from evidently.presets import DataDriftPreset

        snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
        data = snapshot.dict()
    names = {test.display_name: name for name, by_type in _registered_stat_tests.items() for test in by_type.values()}
    drifted = {
        test["metric_config"]["params"]["column"]: test["status"] == "FAIL"
        for test in data["tests"]
        if test["id"] == "drift"
    }
    return {
        metric["config"]["column"]: (
            names.get(metric["config"]["method"], metric["config"]["method"]),
            float(metric["value"]),
            drifted[metric["config"]["column"]],
        )
        for metric in data["metrics"]
        if metric["config"]["type"].endswith("ValueDrift")
    }


def compare(result: DriftResult, expected: dict[str, tuple[str, float, bool]]) -> tuple[int, float]:
    """How many columns have the same method and verdict, and the largest relative score difference."""
    same = 0
    worst = 0.0
    for column in result.columns:
        method, score, drifted = expected[column.column]
        same += column.method == method and column.drifted == drifted
        worst = max(worst, abs(column.score - score) / abs(score) if score else abs(column.score))
    return same, worst


def measure(rows: int, columns: int, repeat: int, with_evidently: bool) -> str:
    reference, current = make_data(rows, columns)
    sort_s, _ = median_time(lambda: sort_bound(reference, current), repeat)
    engine_s, result = median_time(lambda: compute_drift(reference, current), repeat)
    assert isinstance(result, DriftResult)
    if with_evidently:
        evidently_s, expected = timed(lambda: evidently_verdicts(reference, current))
        same, worst = compare(result, expected)  # type: ignore[arg-type]
        evidently = f"{evidently_s:11.2f}"
        ratio = f"{evidently_s / engine_s:6.1f}x"
        verdicts = f"{same}/{len(result.columns)}"
        diff = f"{worst:12.1e}"
    else:
        evidently, ratio, verdicts, diff = f"{'skipped':>11}", f"{'-':>7}", "-", f"{'-':>12}"
    return (
        f"{rows:>10,} {evidently} {engine_s:9.3f} {ratio} {sort_s:7.3f} {engine_s / sort_s:10.2f}x "
        f"{verdicts:>18} {diff} {len(result.drifted_columns):>8}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes (rows per side)")
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--skip-evidently-above", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the engine and the sort bound (median)")
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.rows.split(",")]

    print(f"{args.columns} normal columns, {SHIFTED} shifted by {SHIFT} sd; engine and sort: median of {args.repeat}")
    header = (
        f"{'rows':>10} {'evidently s':>11} {'engine s':>9} {'ratio':>7} {'sort s':>7} {'engine/sort':>11} "
        f"{'verdicts identical':>18} {'max rel diff':>12} {'drifted':>8}"
    )
    print(header, flush=True)
    for rows in sizes:
        print(measure(rows, args.columns, args.repeat, rows <= args.skip_evidently_above), flush=True)


if __name__ == "__main__":
    main()
