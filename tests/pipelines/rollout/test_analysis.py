"""A step's verdict from its arms (pure: frames in, verdict out): no data never passes, any fail fails,
a pass needs every check and the step's minimums."""

from __future__ import annotations

import json

import pandas as pd

from agentgov.pipelines.rollout.analysis import FAIL, INCONCLUSIVE, PASS, judge

SHADOW = {
    "kind": "shadow",
    "min_requests": 100,
    "min_minutes": 0,
    "analysis": {"shadow_agreement": 0.9, "metrics": [{"name": "error_rate", "margin": 0.05, "mde": 0.3}]},
}


def arm(n: int, *, errors: int = 0, args: str = "billing", stage: str = "production") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stage": [stage] * n,
            "pairing_id": [f"r{i}" for i in range(n)],
            "error": ["boom" if i < errors else None for i in range(n)],
            "latency_ms": [100.0 + i % 5 for i in range(n)],
            "cost": [0.001] * n,
            "response.action": ["route"] * n,
            "trace": [json.dumps({"calls": [{"tool": "tickets.route", "args": {"queue": args}}]})] * n,
        }
    )


def test_no_traffic_never_passes() -> None:
    empty = arm(0)
    result = judge(0, SHADOW, empty, empty, minutes=60)
    assert result.verdict == INCONCLUSIVE
    assert {c["check"]: c["verdict"] for c in result.checks} == {
        "error_rate": INCONCLUSIVE,
        "shadow_agreement": INCONCLUSIVE,
    }
    assert "no data never passes" in result.waiting_for and "100 more candidate requests" in result.waiting_for
    bare = {"kind": "canary", "percent": 5, "analysis": {}}
    assert judge(1, bare, empty, empty, minutes=60).verdict == INCONCLUSIVE  # a step with no checks still needs traffic


def test_equal_arms_pass_once_the_minimums_are_met() -> None:
    assert judge(0, SHADOW, arm(300), arm(300, stage="shadow"), minutes=1).verdict == PASS
    early = judge(0, {**SHADOW, "min_minutes": 10}, arm(300), arm(300, stage="shadow"), minutes=1)
    assert early.verdict == INCONCLUSIVE and "9.0 more minutes" in early.waiting_for


def test_errors_or_other_arguments_fail() -> None:
    errors = judge(0, SHADOW, arm(300), arm(300, errors=90, stage="shadow"), minutes=1)
    assert errors.verdict == FAIL and "error_rate failed" in errors.waiting_for
    other = judge(0, SHADOW, arm(300), arm(300, args="sales", stage="shadow"), minutes=1)
    assert other.verdict == FAIL and "different arguments to tickets.route" in other.waiting_for
    assert other.agreement["agreement"] == 0.0 and other.rollout_stats()["requests"] == 300
