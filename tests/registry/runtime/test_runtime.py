"""Building a runtime from a manifest: schemas from the agent's folder, connections opened once and closed."""

from __future__ import annotations

import json
from pathlib import Path

from agentgov.registry.runtime import AgentRuntime


class Counting:
    name, description = "counting", "counts connects and closes"

    def __init__(self) -> None:
        self.connects = 0
        self.closes = 0

    def connect(self, settings):
        self.connects += 1
        assert settings.config == {"region": "eu", "token": "from-env"}
        assert (settings.name, settings.kind, settings.agent) == ("box", "counting", "box-agent")
        kind = self

        class Connection:
            def call(self, action, args):
                return {"n": kind.connects}

            def close(self):
                kind.closes += 1

        return Connection()


def _manifest() -> dict:
    return {
        "name": "box-agent",
        "description": "d",
        "owners": ["o"],
        "risk_tier": "low",
        "entrypoint": "a.py:A",
        "example_request": {},
        "connectors": [
            {
                "name": "box",
                "kind": "counting",
                "scopes": ["box:*"],
                "config": {"region": "eu", "token_env": "BOX_TOKEN"},
            }
        ],
        "tools": [{"connector": "box", "action": "put", "schema": "schemas/put.json", "scope": "box:put"}],
    }


def test_schemas_come_from_the_agent_folder_and_a_connection_is_opened_once_and_closed(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "put.json").write_text(json.dumps({"type": "object", "required": ["key"]}))
    kind = Counting()
    runtime = AgentRuntime.from_manifest(
        _manifest(), schema_dir=tmp_path, kinds={"counting": kind}, environ={"BOX_TOKEN": "from-env"}
    )
    assert runtime.tools["box.put"].schema == {"type": "object", "required": ["key"]}
    for _ in range(3):
        assert runtime.context().call("box.put", {"key": "k"}) == {"n": 1}
    assert kind.connects == 1
    runtime.close()
    assert kind.closes == 1


def test_an_invalid_schema_refuses_the_tool_naming_the_problem(tmp_path: Path) -> None:
    import pytest

    from agentgov.registry.runtime import ToolRefused

    runtime = AgentRuntime.from_manifest(
        _manifest(), {"box.put": {"type": "no-such-type"}}, kinds={"counting": Counting()}
    )
    with pytest.raises(ToolRefused, match="its argument schema is not a valid JSON Schema"):
        runtime.context().call("box.put", {"key": "k"})
