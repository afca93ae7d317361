"""Every tool call through the context: refused, validated, limited, timed out, executed, and recorded either way."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from agentgov.registry.runtime import (
    AgentRuntime,
    ConnectorSettings,
    NoRecordedAnswer,
    ToolCall,
    ToolFailed,
    ToolRefused,
    ToolTimeout,
    Trace,
    wants_context,
)


def only_call(ctx) -> dict[str, Any]:
    trace = ctx.trace
    assert len(trace.calls) == 1
    return trace.calls[0].to_dict()


def test_live_call_executes_and_is_recorded(runtime: AgentRuntime, ticket_rows) -> None:
    ctx = runtime.context("live", trace_id="t-1")
    created = ctx.call("helpdesk.create_ticket", {"subject": "Charged twice", "email": "jane.doe@example.com"})
    assert created == {"rowcount": 1, "lastrowid": 1}
    assert ticket_rows() == [(1, "Charged twice", "jane.doe@example.com", "normal")]
    ctx.tools.helpdesk.set_priority(ticket_id=1, priority="high")
    assert ticket_rows()[0][3] == "high"
    trace = ctx.trace
    assert (trace.trace_id, trace.agent, trace.mode) == ("t-1", "helpdesk-agent", "live")
    first, second = trace.calls
    assert (first.tool, first.outcome, first.executed, first.source, first.side_effects) == (
        "helpdesk.create_ticket",
        "ok",
        True,
        "connector",
        True,
    )
    assert first.result == {"rowcount": 1, "lastrowid": 1}
    assert (second.seq, second.tool, second.args) == (1, "helpdesk.set_priority", {"ticket_id": 1, "priority": "high"})
    assert first.latency_ms > 0


def test_recorded_arguments_are_masked_and_the_connector_got_them_unmasked(runtime: AgentRuntime, ticket_rows) -> None:
    ctx = runtime.context("live")
    ctx.call("helpdesk.create_ticket", {"subject": "call me on +44 20 7946 0958", "email": "jane.doe@example.com"})
    recorded = only_call(ctx)
    assert recorded["args"] == {"subject": "call me on [phone]", "email": "j***@example.com"}
    assert "jane.doe" not in json.dumps(recorded) and "7946" not in json.dumps(recorded)
    assert ticket_rows()[0][1:3] == ("call me on +44 20 7946 0958", "jane.doe@example.com")


def test_secret_named_arguments_are_redacted_in_the_trace(make_runtime) -> None:
    class Echo:
        name, description = "echo", "answers its arguments"

        def connect(self, settings):
            return type("C", (), {"call": lambda self, action, args: {"ok": True}, "close": lambda self: None})()

    schema = {"type": "object"}
    runtime = make_runtime(
        connector={"kind": "echo", "config": {}},
        tools=[
            {
                "connector": "helpdesk",
                "action": "login",
                "schema": "login.json",
                "scope": "tickets:read",
                "side_effects": False,
            }
        ],
        schemas={"helpdesk.login": schema},
        kinds_={"echo": Echo()},
    )
    ctx = runtime.context()
    ctx.call("helpdesk.login", {"user": "bob", "password": "hunter2-hunter2", "header": "Bearer abcdefghijklmnop"})
    assert only_call(ctx)["args"] == {"user": "bob", "password": "***", "header": "Bearer ***"}


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        ("crm.lookup", {}, "connector 'crm' is not declared in the manifest (declared: helpdesk)"),
        ("helpdesk.delete_ticket", {}, "the manifest declares no tool 'delete_ticket' for connector 'helpdesk'"),
        ("helpdesk.close_all", {"subject": "x"}, "scope 'tickets:admin' is not granted to connector 'helpdesk'"),
        ("helpdesk.create_ticket", {"subject": ""}, "arguments do not match its schema at subject"),
        (
            "helpdesk.create_ticket",
            {"subject": "x", "cc": "y"},
            "Additional properties are not allowed ('cc' was unexpected)",
        ),
        ("helpdesk.set_priority", {"ticket_id": "1", "priority": "high"}, "at ticket_id: '1' is not of type 'integer'"),
        ("helpdesk.create_ticket", ["x"], "arguments must be an object of named values, got list"),
    ],
    ids=[
        "undeclared-connector",
        "undeclared-tool",
        "scope-not-granted",
        "empty-subject",
        "extra-argument",
        "wrong-type",
        "not-an-object",
    ],
)
def test_refusals_reach_the_agent_and_the_trace_and_nothing_executes(
    runtime: AgentRuntime, ticket_rows, tool: str, args: Any, message: str
) -> None:
    ctx = runtime.context("live")
    with pytest.raises(ToolRefused) as raised:
        ctx.call(tool, args)
    assert message in str(raised.value)
    recorded = only_call(ctx)
    assert (recorded["tool"], recorded["outcome"], recorded["executed"], recorded["result"]) == (
        tool,
        "refused",
        False,
        None,
    )
    assert message in recorded["error"]
    assert ticket_rows() == []


def test_a_tool_without_a_scope_is_refused(make_runtime) -> None:
    runtime = make_runtime(
        tools=[{"connector": "helpdesk", "action": "peek", "schema": "peek.json"}], schemas={"helpdesk.peek": {}}
    )
    ctx = runtime.context()
    with pytest.raises(ToolRefused, match="declares no scope"):
        ctx.call("helpdesk.peek", {})
    assert only_call(ctx)["outcome"] == "refused"


def test_a_tool_whose_schema_was_not_packaged_is_refused(make_runtime, ticket_rows) -> None:
    ctx = make_runtime(schemas={}).context()
    with pytest.raises(ToolRefused, match="schema was not packaged"):
        ctx.call("helpdesk.create_ticket", {"subject": "x"})
    assert ticket_rows() == []


def test_rate_limit_refuses_the_call_over_it_and_is_shared_by_every_context(make_runtime, ticket_rows) -> None:
    name = f"rate-limited-{uuid.uuid4().hex[:8]}"  # buckets live as long as the process: a name of its own
    runtime = make_runtime(name=name, connector={"rate_limit": "2/h"})
    first, second = runtime.context(), runtime.context()
    first.call("helpdesk.create_ticket", {"subject": "one"})
    second.call("helpdesk.create_ticket", {"subject": "two"})
    with pytest.raises(ToolRefused, match=r"rate limit 2/h of connector 'helpdesk' exceeded"):
        first.call("helpdesk.create_ticket", {"subject": "three"})
    again = make_runtime(name=name, connector={"rate_limit": "2/h"}).context()  # another load, same process
    with pytest.raises(ToolRefused, match="rate limit"):
        again.call("helpdesk.find_tickets", {"subject": "one"})
    assert [row[1] for row in ticket_rows()] == ["one", "two"]
    refused = first.trace.calls[-1]
    assert (refused.outcome, refused.executed) == ("refused", False)


class Slow:
    """A connector kind whose calls wait until the test lets them go."""

    name, description = "slow", "waits for the test"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()

    def connect(self, settings: ConnectorSettings):
        kind = self

        class Connection:
            def call(self, action: str, args: Mapping[str, Any]) -> Any:
                kind.release.wait(10)
                kind.finished.set()
                return {"late": True}

            def close(self) -> None:
                pass

        return Connection()


def test_a_call_past_its_timeout_is_abandoned_with_an_error_and_recorded(make_runtime) -> None:
    slow = Slow()
    runtime = make_runtime(
        connector={"kind": "slow", "config": {}},
        tools=[
            {
                "connector": "helpdesk",
                "action": "wait",
                "schema": "wait.json",
                "scope": "tickets:read",
                "timeout_s": 0.2,
            }
        ],
        schemas={"helpdesk.wait": {"type": "object"}},
        kinds_={"slow": slow},
    )
    ctx = runtime.context(trace_id="slow-1")
    try:
        with pytest.raises(ToolTimeout, match=r"no answer within 0.2 s; the call was abandoned"):
            ctx.call("helpdesk.wait", {})
        recorded = only_call(ctx)
        assert (recorded["outcome"], recorded["executed"]) == ("timeout", True)
        assert 150 <= recorded["latency_ms"] < 5000
        assert not slow.finished.is_set()  # the worker still runs: a thread cannot be killed
    finally:
        slow.release.set()
    assert slow.finished.wait(5)


def test_a_connector_that_raises_fails_the_call_with_its_message(make_runtime) -> None:
    # Declared and granted, but the sqlite connector has no statement for it: the connector raises.
    runtime = make_runtime(
        tools=[
            {
                "connector": "helpdesk",
                "action": "find_all",
                "schema": "f.json",
                "scope": "tickets:read",
                "side_effects": False,
            }
        ],
        schemas={"helpdesk.find_all": {"type": "object"}},
    )
    ctx = runtime.context()
    with pytest.raises(ToolFailed, match=r"LookupError: no statement for action 'find_all'"):
        ctx.tools.helpdesk.find_all(subject="x")
    recorded = only_call(ctx)
    assert (recorded["outcome"], recorded["executed"]) == ("failed", True)


def test_an_unknown_connector_kind_is_refused_naming_it(make_runtime) -> None:
    ctx = make_runtime(connector={"kind": "zendesk", "config": {}}).context()
    with pytest.raises(ToolRefused, match=r"kind 'zendesk', which no plugin provides \(installed: http, sqlite\)"):
        ctx.call("helpdesk.find_tickets", {"subject": "x"})


def test_a_config_env_variable_is_read_when_connecting_and_a_missing_one_fails(
    make_runtime, db, ticket_rows, monkeypatch
) -> None:
    monkeypatch.delenv("HELPDESK_DB_TEST", raising=False)
    runtime = make_runtime(config={"path": None, "path_env": "HELPDESK_DB_TEST"})
    with pytest.raises(ToolFailed, match=r"config path_env names \$HELPDESK_DB_TEST, which is not set"):
        runtime.context().call("helpdesk.create_ticket", {"subject": "x"})
    monkeypatch.setenv("HELPDESK_DB_TEST", str(db))
    runtime = make_runtime(config={"path": None, "path_env": "HELPDESK_DB_TEST"})
    runtime.context().call("helpdesk.create_ticket", {"subject": "x"})
    assert [r[1] for r in ticket_rows()] == ["x"]


def test_shadow_never_executes_a_side_effecting_tool_and_answers_from_the_paired_trace(
    runtime: AgentRuntime, ticket_rows
) -> None:
    production = runtime.context("live", trace_id="prod-1")
    production.call("helpdesk.create_ticket", {"subject": "Charged twice", "email": "jane@example.com"})
    production.call("helpdesk.set_priority", {"ticket_id": 1, "priority": "high"})
    before = ticket_rows()
    assert before == [(1, "Charged twice", "jane@example.com", "high")]
    paired = Trace.from_json(production.trace.to_json())  # as an inference log stores it

    shadow = runtime.context("shadow", trace_id="prod-1", paired=paired)
    assert shadow.call("helpdesk.create_ticket", {"subject": "Charged twice", "email": "jane@example.com"}) == {
        "rowcount": 1,
        "lastrowid": 1,
    }
    assert (
        shadow.call("helpdesk.set_priority", {"ticket_id": 1, "priority": "high"}) == production.trace.calls[1].result
    )
    with pytest.raises(NoRecordedAnswer, match="no paired production result for these arguments nor a stub"):
        shadow.call("helpdesk.set_priority", {"ticket_id": 1, "priority": "low"})
    assert ticket_rows() == before  # no new row, and the priority is still high
    created, priority, unanswered = shadow.trace.calls
    assert (created.executed, created.source, created.outcome, created.mode) == (False, "paired", "ok", "shadow")
    assert (priority.executed, priority.source) == (False, "paired")
    assert (unanswered.executed, unanswered.outcome) == (False, "unanswered")


def test_shadow_answers_from_the_stub_and_fails_clearly_without_one(runtime: AgentRuntime, ticket_rows) -> None:
    shadow = runtime.context("shadow")
    assert shadow.call("helpdesk.create_ticket", {"subject": "new"}) == {"rowcount": 1, "lastrowid": -1}
    with pytest.raises(NoRecordedAnswer, match="a side-effecting tool never executes in shadow mode"):
        shadow.call("helpdesk.set_priority", {"ticket_id": 1, "priority": "high"})
    assert ticket_rows() == []
    stubbed, unanswered = shadow.trace.calls
    assert (stubbed.source, stubbed.executed) == ("stub", False)
    assert (unanswered.outcome, unanswered.executed, unanswered.source) == ("unanswered", False, None)


def test_shadow_executes_read_only_tools_or_replays_them_as_configured(runtime: AgentRuntime) -> None:
    live = runtime.context("live")
    live.call("helpdesk.create_ticket", {"subject": "a"})
    executed = runtime.context("shadow")
    assert executed.call("helpdesk.find_tickets", {"subject": "a"}) == {"rows": [{"id": 1, "subject": "a"}]}
    assert executed.trace.calls[0].executed is True
    paired = Trace(
        "p", calls=(ToolCall(0, "helpdesk.find_tickets", {"subject": "a"}, "ok", {"rows": []}, executed=True),)
    )
    replayed = runtime.context("shadow", paired=paired, read_only="replay")
    assert replayed.call("helpdesk.find_tickets", {"subject": "a"}) == {"rows": []}
    assert (replayed.trace.calls[0].executed, replayed.trace.calls[0].source) == (False, "paired")


def test_replay_answers_every_call_from_the_trace_and_errors_on_a_call_it_does_not_hold(
    runtime: AgentRuntime, ticket_rows
) -> None:
    live = runtime.context("live", trace_id="yesterday-7")
    live.call("helpdesk.create_ticket", {"subject": "a"})
    live.call("helpdesk.create_ticket", {"subject": "a"})
    live.call("helpdesk.find_tickets", {"subject": "a"})
    recorded = Trace.from_json(live.trace.to_json())
    before = ticket_rows()

    replay = runtime.context("replay", trace_id="yesterday-7", paired=recorded)
    assert replay.call("helpdesk.create_ticket", {"subject": "a"}) == {"rowcount": 1, "lastrowid": 1}
    assert replay.call("helpdesk.create_ticket", {"subject": "a"}) == {
        "rowcount": 1,
        "lastrowid": 2,
    }  # the n-th same call
    assert replay.call("helpdesk.find_tickets", {"subject": "a"}) == {
        "rows": [{"id": 1, "subject": "a"}, {"id": 2, "subject": "a"}]
    }
    with pytest.raises(NoRecordedAnswer, match="the replayed trace holds no such call"):
        replay.call("helpdesk.find_tickets", {"subject": "b"})
    assert ticket_rows() == before
    assert [c.executed for c in replay.trace.calls] == [False] * 4
    assert [c.outcome for c in replay.trace.calls] == ["ok", "ok", "ok", "unanswered"]
    assert {c.source for c in replay.trace.calls[:3]} == {"trace"}


def test_replay_reproduces_a_recorded_failure(runtime: AgentRuntime) -> None:
    recorded = Trace.from_dict(
        {
            "trace_id": "x",
            "calls": [
                {
                    "seq": 0,
                    "tool": "helpdesk.find_tickets",
                    "args": {"subject": "a"},
                    "outcome": "failed",
                    "error": "tool helpdesk.find_tickets: OperationalError: locked",
                },
            ],
        }
    )
    with pytest.raises(ToolFailed, match=r"\(recorded\) .*locked"):
        runtime.context("replay", paired=recorded).call("helpdesk.find_tickets", {"subject": "a"})


def test_wants_context_reads_the_signature() -> None:
    class Plain:
        def act(self, request): ...

    class WithContext:
        def act(self, request, ctx): ...

    class Optional:
        def act(self, request, ctx=None): ...

    assert [wants_context(c().act) for c in (Plain, WithContext, Optional)] == [False, True, True]


def test_an_unknown_mode_is_one_line(runtime: AgentRuntime) -> None:
    from agentgov.core.errors import InvalidValue

    with pytest.raises(InvalidValue, match="mode 'dry': expected one of live, shadow, replay"):
        runtime.context("dry")


def test_arguments_that_are_not_json_are_refused_and_recorded_by_type_only(runtime: AgentRuntime) -> None:
    class Secretive:
        def __repr__(self) -> str:
            return "password=hunter2"

    ctx = runtime.context()
    with pytest.raises(ToolRefused, match="arguments must be JSON values"):
        ctx.call("helpdesk.create_ticket", {"subject": Secretive()})
    assert only_call(ctx)["args"] == {"subject": "<Secretive>"}
    assert "hunter2" not in ctx.trace.to_json()
