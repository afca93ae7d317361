"""A third-party connector kind registers through agentgov_register_connectors and a manifest's kind: finds it."""

from __future__ import annotations

from types import SimpleNamespace

from agentgov.core import hookimpl
from agentgov.registry.runtime import CONNECTORS, AgentRuntime


class EchoConnection:
    def call(self, action, args):
        return {"action": action, "args": dict(args)}

    def close(self):
        pass


class Echo:
    name = "echo"
    description = "Answers every call with its own arguments."

    def connect(self, settings):
        return EchoConnection()


def test_builtin_kinds_are_registered_by_their_plugins(agentgov_plugins) -> None:
    found = agentgov_plugins.collect(CONNECTORS)
    assert {name: found[name].plugin for name in ("http", "sqlite")} == {"http": "http", "sqlite": "sqlite"}


def test_a_plugin_kind_is_used_by_a_manifest_that_names_it(agentgov_plugins) -> None:
    plugin = SimpleNamespace(agentgov_register_connectors=hookimpl(lambda register: register(Echo())))
    agentgov_plugins.add(plugin, "acme-echo")
    kinds = {name: registered.item for name, registered in agentgov_plugins.collect(CONNECTORS).items()}
    assert agentgov_plugins.problems == []
    manifest = {
        "name": "echo-agent",
        "description": "d",
        "owners": ["o"],
        "risk_tier": "low",
        "entrypoint": "a.py:A",
        "example_request": {},
        "connectors": [{"name": "box", "kind": "echo", "scopes": ["box:*"]}],
        "tools": [{"connector": "box", "action": "say", "schema": "s.json", "scope": "box:say"}],
    }
    ctx = AgentRuntime.from_manifest(manifest, {"box.say": {"type": "object"}}, kinds=kinds).context()
    assert ctx.tools.box.say(word="hi") == {"action": "say", "args": {"word": "hi"}}


def test_a_wrong_or_duplicate_kind_is_a_problem_naming_the_plugin(agentgov_plugins) -> None:
    def agentgov_register_connectors(register):
        register(SimpleNamespace(name="sqlite", description="again", connect=lambda settings: None))
        register(SimpleNamespace(name="nameless-connect", description="no connect"))

    agentgov_plugins.add(
        SimpleNamespace(agentgov_register_connectors=hookimpl(agentgov_register_connectors)), "acme-bad"
    )
    found = agentgov_plugins.collect(CONNECTORS)
    assert "nameless-connect" not in found
    messages = [str(p) for p in agentgov_plugins.problems]
    # The plugin registered last is called first (pluggy's order), so the built-in is the one refused: both are named.
    assert found["sqlite"].plugin == "acme-bad"
    assert (
        "plugin 'sqlite', hook agentgov_register_connectors: "
        "connector kind name 'sqlite' is already registered by plugin 'acme-bad'"
    ) in messages
    assert any(
        m.startswith("plugin 'acme-bad'") and "which is not a connector kind: it has no connect" in m for m in messages
    )
