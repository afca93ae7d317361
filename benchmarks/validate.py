"""Time validating a large dataset against a 10-expectation suite: Great Expectations (as agentgov runs it)
next to a plain pandas check of the same 10 rules, in the same run, on the same frame.

    .venv/bin/python benchmarks/validate.py [--rows 1000000] [--repeat 3]

Both sides must find the same number of unexpected values per rule, or the run fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LABELS = ["billing", "refund", "technical", "escalation", "standard"]
CHANNELS = ["email", "chat", "phone"]


def make_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    """10 columns: 4 numeric, 3 categorical, 1 text, 1 id, 1 boolean; about 0.1% of values break a rule."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "ticket_id": np.arange(rows, dtype=np.int64),
            "score": rng.random(rows),
            "latency_ms": rng.gamma(2.0, 40.0, rows),
            "tokens": rng.integers(1, 4000, rows),
            "cost": rng.random(rows) * 0.01,
            "label": rng.choice(LABELS, rows),
            "channel": rng.choice(CHANNELS, rows),
            "language": rng.choice(["en", "de", "fr", "es"], rows),
            "subject": rng.choice(["Charged twice", "App crashes", "Where is my invoice", "Refund please", "Hi"], rows),
            "vip": rng.random(rows) < 0.05,
        }
    )
    bad = rng.choice(rows, size=max(1, rows // 1000), replace=False)
    frame.loc[bad[0::4], "score"] = 1.5
    frame.loc[bad[1::4], "label"] = "spam"
    frame.loc[bad[2::4], "subject"] = None
    frame.loc[bad[3::4], "latency_ms"] = -1.0
    return frame


SUITE = {
    "name": "benchmark",
    "expectations": [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": [
            "ticket_id", "score", "latency_ms", "tokens", "cost", "label", "channel", "language", "subject", "vip"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "ticket_id"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "subject"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "score", "min_value": 0, "max_value": 1}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "latency_ms", "min_value": 0, "max_value": 10000}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "tokens", "min_value": 1, "max_value": 8192}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "cost", "min_value": 0, "max_value": 0.01}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "label", "value_set": LABELS}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "channel", "value_set": CHANNELS}},
        {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "subject", "min_value": 2, "max_value": 200}},
    ],
}


def pandas_check(frame: pd.DataFrame) -> dict[str, int]:
    """The same 10 rules in plain pandas: unexpected counts (nulls are not unexpected, as in GE, except for not_null)."""
    expected = set(SUITE["expectations"][0]["kwargs"]["column_set"])
    found: dict[str, int] = {"columns": int(set(frame.columns) != expected)}
    for rule in SUITE["expectations"][1:]:
        kind, kw = rule["type"], rule["kwargs"]
        column = frame[kw["column"]]
        present = column.dropna()
        if kind == "expect_column_values_to_not_be_null":
            bad = int(column.isna().sum())
        elif kind == "expect_column_values_to_be_between":
            bad = int(((present < kw["min_value"]) | (present > kw["max_value"])).sum())
        elif kind == "expect_column_values_to_be_in_set":
            bad = int((~present.isin(kw["value_set"])).sum())
        else:
            lengths = present.str.len()
            bad = int(((lengths < kw["min_value"]) | (lengths > kw["max_value"])).sum())
        found[f"{kind}:{kw['column']}"] = bad
    return found


def ge_check(frame: pd.DataFrame, suite_file: Path) -> tuple[float, dict[str, int]]:
    from agentgov.data.contracts import load_suite, validate_frame

    suite = load_suite(suite_file)
    started = time.perf_counter()
    evaluated, failed = validate_frame(frame, suite, source="benchmark")
    seconds = time.perf_counter() - started
    assert evaluated == 10, evaluated
    counts = {"columns": 0}
    for rule in SUITE["expectations"][1:]:
        counts[f"{rule['type']}:{rule['kwargs']['column']}"] = 0
    for f in failed:
        if f.column is None:
            counts["columns"] = 1
        else:
            counts[f"{f.expectation}:{f.column}"] = f.unexpected_count or 0
    return seconds, counts


def main() -> int:
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    frame = make_frame(args.rows)
    print(f"rows {args.rows:,}, columns {len(frame.columns)}, expectations {len(SUITE['expectations'])}; "
          f"built in {time.perf_counter() - started:.1f} s; cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        suite_file = Path(folder) / "suite.json"
        suite_file.write_text(json.dumps(SUITE))
        csv = Path(folder) / "data.csv"
        frame.to_csv(csv, index=False)
        from agentgov.data.readers import read_dataset

        started = time.perf_counter()
        read_dataset(csv)
        read_s = time.perf_counter() - started
        size_mb = csv.stat().st_size / 1e6
        import_started = time.perf_counter()
        from agentgov.data.contracts import quiet_ge

        with quiet_ge():
            pass
        import_s = time.perf_counter() - import_started
        ge_times, pd_times = [], []
        for _ in range(args.repeat):
            seconds, ge_counts = ge_check(frame, suite_file)
            ge_times.append(seconds)
            started = time.perf_counter()
            pd_counts = pandas_check(frame)
            pd_times.append(time.perf_counter() - started)
    if ge_counts != pd_counts:
        print(f"MISMATCH\n  GE     {ge_counts}\n  pandas {pd_counts}", file=sys.stderr)
        return 1
    ge, pdm = statistics.median(ge_times), statistics.median(pd_times)
    print(f"{'':28}{'median s':>10}{'rows/s':>14}   (of {args.repeat} runs)")
    print(f"{'Great Expectations 1.24.1':28}{ge:>10.2f}{args.rows / ge:>14,.0f}")
    print(f"{'plain pandas, same 10 rules':28}{pdm:>10.2f}{args.rows / pdm:>14,.0f}")
    print(f"GE / pandas: {ge / pdm:.1f}x; both found {sum(pd_counts.values()):,} unexpected values in {sum(1 for v in pd_counts.values() if v)} rules")
    print(f"once per command: import great_expectations {import_s:.1f} s; read the CSV ({size_mb:.0f} MB) {read_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
