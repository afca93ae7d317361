"""The gateway's inference-log buffer on real Parquet files: batches, the time limit, the memory cap, odd rows."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from agentgov.evals import inference_log
from agentgov.evals.inference_log import InferenceRecord
from agentgov.pipelines.gateway.logbuffer import LogBuffer


def _row(i: int, **request: object) -> InferenceRecord:
    return InferenceRecord(
        time=datetime.now(UTC),
        agent="router",
        version=1,
        stage="production",
        request_id=f"r{i}",
        request=request or {"subject": f"s{i}"},
        pairing_id=f"r{i}",
        latency_ms=1.0,
    )


def _files(home: Path) -> int:
    return len(list(inference_log.log_root(home).rglob("*.parquet")))


def test_a_full_batch_is_one_file_and_the_rest_waits_for_close(tmp_path: Path) -> None:
    buffer = LogBuffer(tmp_path, batch_rows=100, max_wait_s=60)
    for batch in range(2):
        for i in range(100):
            assert buffer.add(_row(100 * batch + i))
        deadline = time.monotonic() + 10
        while buffer.written < 100 * (batch + 1) and time.monotonic() < deadline:
            time.sleep(0.01)
    for i in range(200, 250):
        assert buffer.add(_row(i))
    time.sleep(0.2)
    assert buffer.written == 200 and buffer.waiting == 50 and _files(tmp_path) == 2
    assert buffer.close() == 50
    assert len(inference_log.read(tmp_path, "router")) == 250 and _files(tmp_path) == 3
    assert not buffer.add(_row(999)) and buffer.dropped == 1  # after close: dropped and counted


def test_rows_are_written_after_the_time_limit_without_a_full_batch(tmp_path: Path) -> None:
    buffer = LogBuffer(tmp_path, batch_rows=1000, max_wait_s=0.2)
    for i in range(5):
        buffer.add(_row(i))
    deadline = time.monotonic() + 10
    while buffer.written < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert buffer.written == 5 and _files(tmp_path) == 1
    buffer.close()


def test_beyond_the_cap_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    drops: list[str] = []
    buffer = LogBuffer(
        tmp_path, batch_rows=10_000, max_wait_s=60, max_rows=30, on_drop=lambda reason, n: drops.append(reason)
    )
    accepted = [buffer.add(_row(i)) for i in range(40)]
    assert accepted == [True] * 30 + [False] * 10 and buffer.dropped == 10 and drops == ["full"] * 10
    assert buffer.close() == 30


def test_a_row_the_log_refuses_costs_only_itself(tmp_path: Path) -> None:
    drops: list[str] = []
    buffer = LogBuffer(tmp_path, batch_rows=10_000, max_wait_s=60, on_drop=lambda reason, n: drops.append(reason))
    for i in range(5):
        buffer.add(_row(i, priority=i))
    buffer.add(_row(5, priority="high"))  # text where the batch has numbers: the batch is refused as a whole
    buffer.close()
    frame = inference_log.read(tmp_path, "router")
    assert sorted(frame["request_id"]) == [f"r{i}" for i in range(6)]  # one by one, every row fits on its own
    assert buffer.dropped == 0 and drops == []
