"""The exact drift engine against Evidently's DataDriftPreset and the sort-only bound, in one run.

    python benchmarks/drift.py [--rows 100000,1000000] [--columns 10] [--skip-evidently-above 1000000] [--repeat 3]

For each size: reference and current frames of normal data (N rows each, 3 of the
columns shifted by 0.1 sd in the current one). Times Evidently 0.7.23's
``Report([DataDriftPreset()]).run`` once, ``compute_drift`` (the ``evidently-drift``
plugin's choice of tests on agentgov's exact engine) and the lower bound
(``np.sort`` of the 2 x columns arrays, which any exact Wasserstein or KS must
pay) as the median of ``--repeat`` runs, and checks that every column gets the
same method and drifted verdict from both. Targets: the engine at least 20x
faster than the preset, and within 2x of the sort bound.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from agentgov.evals import DriftResult
from agentgov.plugins.evaluators.evidently_drift import compute_drift

SHIFTED = 3
SHIFT = 0.1


def make_data(rows: int, columns: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({f"x{i}": rng.normal(0.0, 1.0, rows) for i in range(columns)})
    current = pd.DataFrame({f"x{i}": rng.normal(SHIFT if i < SHIFTED else 0.0, 1.0, rows) for i in range(columns)})
    return reference, current


@dataclass(frozen=True)
class Seconds:
    """Wall time, and the CPU time of this process (steadier on a machine shared with other work)."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.3f}/{self.cpu:.3f}"


def timed(function: Callable[[], object]) -> tuple[Seconds, object]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    return Seconds(time.perf_counter() - wall, time.process_time() - cpu), value


def median_time(function: Callable[[], object], repeat: int) -> tuple[Seconds, object]:
    runs = [timed(function) for _ in range(repeat)]
    wall = statistics.median(seconds.wall for seconds, _ in runs)
    cpu = statistics.median(seconds.cpu for seconds, _ in runs)
    return Seconds(wall, cpu), runs[-1][1]


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
    evidently, ratio, verdicts, diff = "skipped", "-", "-", "-"
    if with_evidently:
        evidently_s, expected = timed(lambda: evidently_verdicts(reference, current))
        same, worst = compare(result, expected)  # type: ignore[arg-type]
        evidently = str(evidently_s)
        ratio = f"{evidently_s.wall / engine_s.wall:.1f}x/{evidently_s.cpu / engine_s.cpu:.1f}x"
        verdicts = f"{same}/{len(result.columns)}"
        diff = f"{worst:.1e}"
    bound = f"{engine_s.wall / sort_s.wall:.2f}x/{engine_s.cpu / sort_s.cpu:.2f}x"
    return (
        f"{rows:>10,} {evidently:>15} {engine_s!s:>13} {ratio:>13} {sort_s!s:>13} {bound:>13} "
        f"{verdicts:>9} {diff:>8} {len(result.drifted_columns):>7}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes (rows per side)")
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--skip-evidently-above", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the engine and the sort bound (median)")
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.rows.split(",")]

    print(
        f"{args.columns} normal columns, {SHIFTED} shifted by {SHIFT} sd; times are wall/CPU seconds, "
        f"engine and sort the median of {args.repeat} runs; load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'rows':>10} {'evidently s':>15} {'engine s':>13} {'ratio':>13} {'sort s':>13} {'engine/sort':>13} "
        f"{'verdicts':>9} {'max diff':>8} {'drifted':>7}"
    )
    print(header, flush=True)
    for rows in sizes:
        print(measure(rows, args.columns, args.repeat, rows <= args.skip_evidently_above), flush=True)


if __name__ == "__main__":
    main()
