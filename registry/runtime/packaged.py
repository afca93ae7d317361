"""What a registered version carries for its runtime: the manifest and the tools' argument schemas.

Both travel inside the MLflow model as artifacts (``artifacts/agent.yaml`` and
``artifacts/tool_schemas.json``), so a model folder downloaded once (into a
bento, a container) builds the same governed runtime with no registry access.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST_ARTIFACT = "manifest"
SCHEMAS_ARTIFACT = "tool_schemas"
SCHEMAS_FILE = "tool_schemas.json"


def tool_schemas(agent_dir: Path, tools: Any) -> dict[str, Any]:
    """``{"connector.action": schema}`` for the manifest's ``tools``, read from the agent's folder."""
    return {
        f"{tool.connector}.{tool.action}": json.loads((Path(agent_dir) / tool.schema_).read_text(encoding="utf-8"))
        for tool in tools
    }


def read_manifest(path: Path) -> dict[str, Any]:
    """A packaged ``agent.yaml`` as data (it was validated when the version was registered)."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an agent manifest")
    return data


def read_schemas(artifacts: Mapping[str, str]) -> dict[str, Any]:
    """The packaged tool schemas, or none for a version registered before they were packaged."""
    path = artifacts.get(SCHEMAS_ARTIFACT)
    if not path or not Path(path).is_file():
        return {}
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))
