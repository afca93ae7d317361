"""The inference log: Parquet partitions in the home, safe concurrent appends, validated imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from agentgov.core.errors import InvalidValue
from agentgov.evals.inference_log import InferenceRecord, append, load_file, normalise, parse_window, read

START = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


def _records(n: int, *, agent: str = "router", version: int = 1, stage: str = "production", start: datetime = START):
    return [
        InferenceRecord(
            time=start + timedelta(minutes=10 * i),
            agent=agent,
            version=version,
            stage=stage,
            request_id=f"{stage}-{version}-{i}",
            pairing_id=f"pair-{i}",
            request={"subject": f"ticket {i}", "priority": i % 3},
            response={"action": "refund" if i % 2 else "reply", "confidence": 0.5 + i / (4 * n), "text": "ok"},
            latency_ms=12.5 + i,
            cost=0.001,
            trace_id=f"trace-{i}",
        )
        for i in range(n)
    ]


def test_records_round_trip_through_day_partitions(tmp_path: Path) -> None:
    written = append(tmp_path, _records(20))  # 22:00 to 01:10: two days
    assert sorted(p.parent.name for p in written) == ["date=2026-11-23", "date=2026-11-24"]
    assert all(p.parent.parent.name == "agent=router" and p.suffix == ".parquet" for p in written)

    frame = read(tmp_path, "router")
    assert len(frame) == 20 and frame["time"].is_monotonic_increasing
    first = frame.iloc[0]
    assert first["time"] == pd.Timestamp(START)
    assert (first["request.subject"], first["request.priority"], first["response.action"]) == ("ticket 0", 0, "reply")
    assert (first["version"], first["stage"], first["pairing_id"], first["trace_id"]) == (1, "production", "pair-0", "trace-0")
    assert first["latency_ms"] == 12.5 and first["error"] is None


def test_read_filters_by_version_stage_and_time(tmp_path: Path) -> None:
    append(tmp_path, _records(10) + _records(6, version=2, stage="shadow"))
    assert len(read(tmp_path, "router", version=2)) == 6
    assert set(read(tmp_path, "router", stage="production")["version"]) == {1}
    window = read(tmp_path, "router", since=START + timedelta(minutes=20), until=START + timedelta(minutes=50))
    assert sorted(window["request_id"]) == sorted(["production-1-2", "production-1-3", "production-1-4", "shadow-2-2", "shadow-2-3", "shadow-2-4"])
    assert read(tmp_path, "other").empty


def test_two_processes_append_at_once_and_nothing_is_lost(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime, timedelta
        from agentgov.evals.inference_log import InferenceRecord, append
        home, worker = sys.argv[1], sys.argv[2]
        start = datetime(2026, 11, 24, tzinfo=UTC)
        for batch in range(25):
            append(home, [
                InferenceRecord(time=start + timedelta(seconds=batch * 10 + i), agent="router", version=1, stage="production",
                                request_id=f"{worker}-{batch}-{i}", request={"subject": "x", "n": i})
                for i in range(8)
            ])
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name]) for name in ("a", "b")]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    frame = read(tmp_path, "router")
    assert len(frame) == 2 * 25 * 8
    assert frame["request_id"].is_unique
    assert len(list((tmp_path / "inference" / "agent=router").rglob("*.parquet"))) == 50
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_record_is_checked_when_made() -> None:
    with pytest.raises(InvalidValue, match="unknown stage 'staging'"):
        _records(1, stage="staging")
    with pytest.raises(InvalidValue, match="needs a time zone"):
        InferenceRecord(time=datetime(2026, 1, 1), agent="router", version=1, stage="production", request_id="r")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_import_files_of_each_format(tmp_path: Path, suffix: str) -> None:
    rows = [
        {"time": "2026-11-24T10:00:00Z", "request_id": "r1", "request.subject": "Charged twice", "response.action": "refund", "response.confidence": 0.9, "latency_ms": 20},
        {"time": "2026-11-24T10:05:00+01:00", "request_id": "r2", "request.subject": "Crash", "response.action": "technical", "response.confidence": 0.8, "latency_ms": 31},
    ]
    path = tmp_path / f"calls{suffix}"
    if suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    elif suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    else:  # nested objects, as a gateway would write them
        nested = [{"time": r["time"], "request_id": r["request_id"], "request": {"subject": r["request.subject"]},
                   "response": {"action": r["response.action"], "confidence": r["response.confidence"]}, "latency_ms": r["latency_ms"]} for r in rows]
        path.write_text("\n".join(json.dumps(r) for r in nested) + "\n")

    frame = normalise(load_file(path), agent="router", version=3)
    from agentgov.evals.inference_log import append_frame

    append_frame(tmp_path / "home", frame)
    back = read(tmp_path / "home", "router", version=3)
    assert list(back["request_id"]) == ["r2", "r1"]  # 09:05 UTC comes first
    assert list(back["stage"]) == ["production", "production"]
    assert list(back["response.action"]) == ["technical", "refund"]
    assert back["response.confidence"].tolist() == [0.8, 0.9]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"request_id": "r1", "request.subject": "x"}], "missing column 'time'"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": "r1", "subject": "x"}], "unknown column 'subject'"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": "r1"}], "no request fields"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": "r1", "request.s": "x"},
          {"time": "yesterday-ish", "request_id": "r2", "request.s": "y"}], r"row 2, column 'time': expected a date and time"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": "r1", "request.s": "x", "latency_ms": "fast"}], r"row 1, column 'latency_ms': expected a number"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": "r1", "request.s": "x", "stage": "staging"}], r"row 1, column 'stage': expected one of production"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": "r1", "request.s": "x", "response.confidence": 1.7}], r"row 1, column 'response.confidence': expected a confidence"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": "r1", "request.s": "x", "version": 2}], r"row 1, column 'version': 2 differs from the version given \(3\)"),
        ([{"time": "2026-11-24T10:00:00Z", "request_id": None, "request.s": "x"}], r"row 1, column 'request_id': expected a request id"),
    ],
)
def test_import_names_the_first_bad_row_and_column(tmp_path: Path, rows: list[dict], message: str) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(InvalidValue, match=message):
        normalise(load_file(path), agent="router", version=3)


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "calls.jsonl"
    bad.write_text('{"time": "2026-11-24"}\nnot json\n')
    with pytest.raises(InvalidValue, match="line 2 is not JSON"):
        load_file(bad)
    with pytest.raises(InvalidValue, match=r"unknown file type '\.xlsx'"):
        load_file(tmp_path / "calls.xlsx")


def test_windows_parse() -> None:
    assert parse_window("24h") == timedelta(hours=24) and parse_window("7d") == timedelta(days=7)
    with pytest.raises(InvalidValue, match="expected a number and a unit"):
        parse_window("1 day")
