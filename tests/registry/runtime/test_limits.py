"""Token buckets refill at their rate; a worker call past its time limit is abandoned, and workers are reused."""

from __future__ import annotations

import threading

import pytest

from agentgov.registry.runtime.limits import CallTimedOut, TokenBucket, parse_rate, run_with_timeout, shared_bucket


def test_a_bucket_allows_its_capacity_then_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(2, 1.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] += 0.5  # half a second: one token back at 2/s
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 10  # never more than the capacity
    assert [bucket.take() for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize(
    ("text", "expected"), [("10/s", (10, 1.0)), ("600/min", (600, 60.0)), ("5/h", (5, 3600.0)), ("1/d", (1, 86400.0))]
)
def test_rates_parse(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate(text) == expected


def test_the_bucket_is_shared_per_agent_connector_and_rate() -> None:
    assert shared_bucket("a", "c", "1/s") is shared_bucket("a", "c", "1/s")
    assert shared_bucket("a", "c", "1/s") is not shared_bucket("b", "c", "1/s")


def test_a_result_and_an_exception_come_back_from_the_worker() -> None:
    assert run_with_timeout(lambda: 42, 5) == 42
    with pytest.raises(KeyError):
        run_with_timeout(lambda: {}["x"], 5)


def test_a_call_past_its_limit_raises_and_reports_when_it_ends_late() -> None:
    release, ended = threading.Event(), threading.Event()
    with pytest.raises(CallTimedOut):
        run_with_timeout(lambda: release.wait(10), 0.05, on_late_end=ended.set)
    assert not ended.is_set()
    release.set()
    assert ended.wait(5)
    assert run_with_timeout(lambda: "after", 5) == "after"  # the pool still serves
