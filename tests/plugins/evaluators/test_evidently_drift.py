"""The built-in ``evidently-drift`` evaluator on support-ticket traffic: shifted, unshifted, too little, broken."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from agentgov.core.plugins import PluginManager
from agentgov.evals.drift_engine import compute_drift
from agentgov.evals.drift_features import comparable
from agentgov.evals.drift_result import DriftStatus
from agentgov.evals.protocol import EVALUATORS

SUBJECTS = ("Charged twice", "Invoice question", "App crash", "Password reset", "Where is my order")
WORDS = "please help my account order payment card login error refund invoice thanks since yesterday".split()
NEW_WORDS = "bitte hilfe konto rechnung zahlung fehler dringend sofort".split()


def tickets(n: int, *, seed: int, shifted: bool = False) -> pd.DataFrame:
    """Requests and the router's answers, as the inference log holds them; ``shifted`` traffic is longer, in new words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = WORDS + NEW_WORDS * 3 if shifted else WORDS
        body = " ".join(rng.choice(words) for _ in range(rng.randint(12, 30) if shifted else rng.randint(5, 15)))
        subject = "Konto gesperrt" if shifted and rng.random() < 0.6 else rng.choice(SUBJECTS)
        action = "refund" if "refund" in body else "technical" if "error" in body else "reply"
        rows.append({
            "time": pd.Timestamp("2026-11-24", tz="UTC") + pd.Timedelta(seconds=i), "agent": "router", "version": 1,
            "stage": "production", "request_id": f"r{seed}-{i}", "latency_ms": rng.uniform(5, 50),
            "request.subject": subject, "request.body": body, "response.action": action,
            "response.confidence": {"refund": 0.92, "technical": 0.81, "reply": 0.55}[action],
        })
    return pd.DataFrame(rows)


@pytest.fixture
def evaluator(agentgov_plugins: PluginManager):
    return agentgov_plugins.collect(EVALUATORS)["evidently-drift"].item


def test_it_is_a_built_in_evaluator(agentgov_plugins: PluginManager) -> None:
    registered = agentgov_plugins.collect(EVALUATORS)["evidently-drift"]
    assert registered.plugin == "evidently-drift"


def test_shifted_traffic_drifts_on_text_descriptors_and_outputs(evaluator) -> None:
    result = evaluator.evaluate(tickets(2000, seed=1), tickets(2000, seed=2, shifted=True))
    assert result.status is DriftStatus.DRIFT and result.dataset_drifted
    by_name = {c.column: c for c in result.columns}
    assert set(by_name) == {
        "request.subject", "request.body:length", "request.body:oov_share", "response.action", "response.confidence",
    }  # ids, times and latency are not inputs; the body text is replaced by its descriptors
    assert by_name["request.body:length"].method == "wasserstein" and by_name["request.body:length"].drifted
    assert by_name["request.body:oov_share"].drifted
    assert by_name["request.subject"].method == "jensenshannon" and by_name["request.subject"].drifted
    assert result.reference_rows == result.current_rows == 2000


def test_unshifted_traffic_does_not_drift(evaluator) -> None:
    result = evaluator.evaluate(tickets(2000, seed=1), tickets(2000, seed=2))
    assert result.status is DriftStatus.OK and result.drifted_columns == ()
    # Leave-one-out vocabulary: an unshifted window has about the reference's out-of-vocabulary share, not more.
    assert result.column("request.body:oov_share").score < 0.1


def test_the_verdict_is_the_exact_engine_on_all_rows(evaluator) -> None:
    reference, current = tickets(1500, seed=3), tickets(1200, seed=4, shifted=True)
    assert evaluator.evaluate(reference, current) == compute_drift(*comparable(reference, current))


def test_descriptors_are_exact() -> None:
    reference = pd.DataFrame({"request.body": [f"Common w{i}" for i in range(40)]})
    current = pd.DataFrame({"request.body": ["w3, w4!", "brand new", None] + [f"common x{i}" for i in range(37)]})
    ref, cur = comparable(reference, current)
    assert ref["request.body:length"].tolist()[:2] == [9.0, 9.0] and ref["request.body:length"][10] == 10.0
    assert cur["request.body:length"].tolist()[:3] == [7.0, 9.0, 0.0]
    # In the reference, "common" is in other rows and each w<i> in none: half of each row is out of vocabulary.
    assert set(ref["request.body:oov_share"]) == {0.5}
    assert cur["request.body:oov_share"].tolist()[:2] == [0.0, 1.0] and np.isnan(cur["request.body:oov_share"][2])
    assert set(cur["request.body:oov_share"][3:]) == {0.5}


def test_a_plain_reference_file_lines_up_with_the_log(evaluator) -> None:
    log = tickets(500, seed=5)
    plain = log[["request.subject", "request.body"]].rename(columns=lambda c: c.removeprefix("request."))
    result = evaluator.evaluate(plain, log)
    assert {c.column for c in result.columns} == {"request.subject", "request.body:length", "request.body:oov_share"}
    assert result.status is DriftStatus.OK


def test_too_few_calls_are_insufficient_data(evaluator) -> None:
    result = evaluator.evaluate(tickets(500, seed=1), tickets(12, seed=2))
    assert result.status is DriftStatus.INSUFFICIENT_DATA and "12 in the current data" in result.message
    empty = tickets(1, seed=1).iloc[:0][["time"]]
    assert evaluator.evaluate(tickets(500, seed=1), empty).status is DriftStatus.INSUFFICIENT_DATA


def test_a_crash_is_an_error_result_not_an_exception(evaluator) -> None:
    reference = tickets(100, seed=1)
    current = tickets(100, seed=2).drop(columns=["request.subject"]).rename(columns={"request.body": "request.other"})
    current["request.other"] = current["request.other"].str.len()  # a column of another type on each side
    reference["request.other"] = "x"
    result = evaluator.evaluate(reference.drop(columns=["request.body"]), current)
    assert result.status is DriftStatus.ERROR and result.message
    assert evaluator.evaluate(None, tickets(50, seed=1)).status is DriftStatus.ERROR
