from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agentgov.core import AgentRef, Event, hookimpl
from agentgov.core.config import load_config
from agentgov.core.events import publish
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager, load_plugins


def test_an_event_is_audited_before_plugins_see_it(agentgov_home: Home, agentgov_plugins: PluginManager) -> None:
    seen_records: list[int] = []

    class Observer:
        @hookimpl
        def agentgov_on_event(self, event: Event) -> None:
            seen_records.append(len(list(agentgov_home.audit_log.records())))

    agentgov_plugins.add(Observer(), "observer")
    event = Event("promoted", AgentRef("router", version=4), "alice", {"to": "production", "token": "t0ps3cret"}, decision_id="d-1")
    record = publish(event, audit=agentgov_home.audit_log, plugins=agentgov_plugins)
    assert seen_records == [1]
    assert (record.action, record.subject, record.actor) == ("event.promoted", "router/4", "alice")
    assert record.payload["decision_id"] == "d-1"
    assert record.payload["payload"]["token"] == "***"
    assert "t0ps3cret" not in agentgov_home.audit_log.path.read_text()


def test_a_failing_plugin_does_not_lose_the_event(agentgov_home: Home, agentgov_plugins: PluginManager) -> None:
    class Failing:
        @hookimpl
        def agentgov_on_event(self, event: Event) -> None:
            raise RuntimeError("boom")

    agentgov_plugins.add(Failing(), "failing")
    publish(Event("blocked", AgentRef("router", version=1), "alice"), audit=agentgov_home.audit_log, plugins=agentgov_plugins)
    assert agentgov_home.audit_log.verify().records == 1
    assert agentgov_plugins.problems[0].plugin == "failing"


def test_builtin_log_events_plugin_logs_each_event(
    agentgov_plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="agentgov.events"):
        agentgov_plugins.emit(Event("rolled-back", AgentRef("router", version=3), "alice", decision_id="d-9"))
    assert [r.getMessage() for r in caplog.records] == ["rolled-back router/3 by alice (decision d-9)"]


def test_installed_example_plugin_receives_events(agentgov_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "events.jsonl"
    monkeypatch.setenv("AGENTGOV_NOTIFY_FILE", str(target))
    manager = load_plugins(load_config())
    assert "notify-file" in {i.name for i in manager.plugins()}, "install examples/agentgov-notify-file (see README)"
    event = Event("approved", AgentRef("router", version=2), "bob")
    publish(event, audit=agentgov_home.audit_log, plugins=manager)
    assert [json.loads(line) for line in target.read_text().splitlines()] == [event.to_dict()]
