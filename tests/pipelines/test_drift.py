"""The drift check with another evaluator plugin: chosen in agentgov.toml, driving `agentgov drift` and the gate.

The ``mean-shift`` evaluator below is an ordinary plugin object, written as a
third-party author would (only ``agentgov.core`` and ``agentgov.evals`` public
names), registered on the test's plugin manager and unregistered afterwards.
Its verdict is computed from the data: how far each numeric request field's
mean moved, in reference standard deviations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agentgov.core import AgentRef, Outcome, Stage, hookimpl
from agentgov.core.config import load_config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.evals import EVALUATORS, ColumnDrift, DriftResult, DriftStatus, comparable
from agentgov.evals.inference_log import InferenceRecord, append
from agentgov.pipelines.drift import check_drift
from agentgov.pipelines.promotion import prepare
from agentgov.pipelines.registration import register
from agentgov.registry.backend import connect
from agentgov.registry.model import TAG_DRIFT

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CONFIG = """\
[drift]
evaluator = "mean-shift"

[stages.shadow.policies.drift-within-limits]
max_drift_share = 0.3
"""


class MeanShift:
    name = "mean-shift"
    description = "Shift of each numeric request field's mean, in reference standard deviations."
    threshold = 0.5

    def evaluate(self, reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> DriftResult:
        reference, current = comparable(reference, current)  # the request fields both sides have, named alike
        names = [c for c in current.columns if str(c).startswith("request.") and pd.api.types.is_numeric_dtype(current[c])]
        columns = []
        for name in names:
            ref, cur = reference[name].dropna(), current[name].dropna()
            score = abs(cur.mean() - ref.mean()) / max(ref.std(), 1e-9)
            columns.append(ColumnDrift(name, "num", "mean-shift", float(score), self.threshold, bool(score >= self.threshold)))
        share = sum(c.drifted for c in columns) / len(columns)
        status = DriftStatus.DRIFT if share >= 0.5 else DriftStatus.OK
        return DriftResult(tuple(columns), share, share >= 0.5, 0.5, len(reference), len(current), status, engine="mean-shift")


class MeanShiftPlugin:
    @hookimpl
    def agentgov_register_evaluators(self, register: Any) -> None:
        register(MeanShift())


@pytest.fixture
def plugins(agentgov_plugins: PluginManager) -> Iterator[PluginManager]:
    name = agentgov_plugins.register(MeanShiftPlugin(), "mean-shift-plugin")
    try:
        yield agentgov_plugins
    finally:
        agentgov_plugins.unregister(name)


@pytest.fixture
def candidate(agentgov_home: Home, plugins: PluginManager, agent_dir: Path, agent_name: str) -> str:
    """The agent registered (version 1, a candidate), agentgov.toml choosing mean-shift and gating shadow on drift."""
    register(agent_dir, config=load_config(), audit=agentgov_home.audit_log, plugins=plugins, actor="alice")
    Path("agentgov.toml").write_text(CONFIG)
    rng = np.random.default_rng(1)
    pd.DataFrame({"amount": rng.normal(100, 10, 300), "items": rng.integers(1, 5, 300).astype(float),
                  "wait_s": rng.exponential(30, 300)}).to_csv(
        "reference.csv", index=False,
    )
    return agent_name


def _calls(home: Path, agent: str, *, amount_mean: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    append(home, [
        InferenceRecord(
            time=NOW - timedelta(hours=23) + timedelta(seconds=i * 60), agent=agent, version=1, stage="shadow",
            request_id=f"{seed}-{i}", request={"amount": float(rng.normal(amount_mean, 10)), "items": float(rng.integers(1, 5)),
                     "wait_s": float(rng.exponential(30))},
            response={"action": "reply", "confidence": 0.9},
        )
        for i in range(300)
    ])


def _drift_command(plugins: PluginManager, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """``agentgov drift ...`` in this process, so it sees the plugin registered here."""
    from agentgov.cli.main import cli

    monkeypatch.setattr("agentgov.core.plugins.load_plugins", lambda config, **kwargs: plugins)
    return CliRunner().invoke(cli, ["drift", *args], catch_exceptions=False)


def _gate(plugins: PluginManager, home: Home, name: str) -> Any:
    prepared = prepare(load_config(), AgentRef(name, version=1), Stage.SHADOW, actor="bob", audit=home.audit_log, plugins=plugins,
                       dry_run=True)
    return prepared.decision, {r.policy: r for r in prepared.decision.results}


def test_the_configured_evaluator_drives_the_drift_command_and_the_gate(
    candidate: str, plugins: PluginManager, agentgov_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config().drift_evaluator == "mean-shift"
    assert ("drift.evaluator", "mean-shift", "agentgov.toml, line 2") in load_config().shown()
    _calls(agentgov_home.root, candidate, amount_mean=130, seed=2)  # the amounts moved by 3 standard deviations

    ran = _drift_command(plugins, monkeypatch, candidate, "--version", "1", "--reference", "reference.csv",
                         "--until", NOW.isoformat(), "--json")
    assert ran.exit_code == 1, ran.output
    check = json.loads(ran.stdout)
    assert check["evaluator"] == "mean-shift" and check["engine"] == "mean-shift" and check["status"] == "ok"
    by_column = {c["column"]: c for c in check["columns"]}
    assert by_column["request.amount"]["drifted"] and by_column["request.amount"]["score"] == pytest.approx(3.0, abs=0.4)
    assert not by_column["request.items"]["drifted"] and not by_column["request.wait_s"]["drifted"]
    assert check["report"] is None  # mean-shift renders no report; nothing is missing for it
    # The data set is "ok" by the evaluator's 50%, but the gate's limit is 30%: the command says so, and exits 1.
    assert check["gate"] == [{
        "stage": "shadow", "policy": "drift-within-limits", "status": "fail", "mode": "enforce",
        "reason": "33% of columns drifted (limit 30%): request.amount",
    }]

    shown = _drift_command(plugins, monkeypatch, candidate, "--version", "1", "--reference", "reference.csv", "--until", NOW.isoformat())
    assert "1 of 3 columns drifted (33%): request.amount; below the 50% at which mean-shift calls the data set drifted." in shown.stdout
    assert "Gate to shadow: drift-within-limits FAILS: 33% of columns drifted (limit 30%): request.amount" in shown.stdout

    decision, results = _gate(plugins, agentgov_home, candidate)
    assert decision.outcome is Outcome.BLOCKED
    assert results["drift-within-limits"].reason == "33% of columns drifted (limit 30%): request.amount"


def test_an_unshifted_window_passes_the_gate_and_the_command_says_so(
    candidate: str, plugins: PluginManager, agentgov_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    _calls(agentgov_home.root, candidate, amount_mean=100, seed=3)
    shown = _drift_command(plugins, monkeypatch, candidate, "--version", "1", "--reference", "reference.csv", "--until", NOW.isoformat())
    assert shown.exit_code == 0, shown.output
    assert "No drift: none of the 3 columns drifted." in shown.stdout
    assert "Gate to shadow: drift-within-limits passes: 0% of 3 columns drifted (limit 30%)" in shown.stdout
    _, results = _gate(plugins, agentgov_home, candidate)
    assert results["drift-within-limits"].status.value == "pass"


def test_a_broken_evaluator_result_fails_closed(
    candidate: str, plugins: PluginManager, agentgov_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    _calls(agentgov_home.root, candidate, amount_mean=100, seed=4)
    monkeypatch.setattr(pd.Series, "std", lambda self, *a, **k: float("nan"))  # every score NaN: "not drifted", unchecked
    check = check_drift(load_config(), plugins, candidate, version=1, reference="reference.csv", now=NOW)
    assert check.result.status is DriftStatus.ERROR
    assert check.result.message == "column 'request.amount': the mean-shift score is nan, not a number a verdict can rest on"
    tag = json.loads(connect(load_config()).get_model_version(candidate, "1").tags[TAG_DRIFT])
    assert tag["status"] == "error"
    assert [(v.stage, v.status) for v in check.gate] == [("shadow", "error")]


def test_the_evaluator_setting_comes_from_the_environment_and_a_missing_one_is_named(
    candidate: str, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTGOV_DRIFT_EVALUATOR", "evidently-drift")
    config = load_config()
    assert (config.drift_evaluator, config.sources["drift_evaluator"]) == ("evidently-drift", "$AGENTGOV_DRIFT_EVALUATOR")
    monkeypatch.setenv("AGENTGOV_DRIFT_EVALUATOR", "nope")
    ran = _drift_command(plugins, monkeypatch, candidate, "--version", "1", "--reference", "reference.csv")
    assert ran.exit_code == 2
    assert "no evaluator named 'nope'" in ran.stderr and "mean-shift" in ran.stderr
    assert set(plugins.collect(EVALUATORS)) == {"evidently-drift", "mean-shift"}
