"""The tool schemas a version carries, read from the agent's folder when registering and from the model when loading."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from agentgov.registry.runtime.packaged import SCHEMAS_ARTIFACT, read_manifest, read_schemas, tool_schemas


def test_schemas_are_keyed_by_tool_and_read_back(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"type": "object"}))
    tools = [SimpleNamespace(connector="helpdesk", action="create", schema_="s.json")]
    schemas = tool_schemas(tmp_path, tools)
    assert schemas == {"helpdesk.create": {"type": "object"}}
    packaged = tmp_path / "tool_schemas.json"
    packaged.write_text(json.dumps(schemas))
    assert read_schemas({SCHEMAS_ARTIFACT: str(packaged)}) == schemas
    assert read_schemas({}) == {}  # a version registered before schemas were packaged


def test_a_packaged_manifest_is_read_as_data(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text("name: a\ntools: []\n")
    assert read_manifest(tmp_path / "agent.yaml") == {"name": "a", "tools": []}
