"""Restoring the datasets a registered version was built from, as its lineage tags record them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.data.errors import DataError
from agentgov.data.versioning import MODIFIED, Restored, restore

if TYPE_CHECKING:
    from agentgov.core.config import Config
    from agentgov.registry.model import AgentVersion

DATASET, POINTER, STATE = "dataset.", "dvc.", "dataset_state."


def recorded_datasets(version: AgentVersion) -> dict[str, dict[str, Any] | str]:
    """Per dataset path: the DVC pointer entry to restore, or why it cannot be restored."""
    lineage = version.lineage
    found: dict[str, dict[str, Any] | str] = {}
    for key, md5 in lineage.items():
        if not key.startswith(DATASET):
            continue
        path = key.removeprefix(DATASET)
        state = lineage.get(STATE + path, "ok")
        if md5 in ("untracked", "unreadable"):
            found[path] = f"was {md5} by DVC when {version.ref} was registered; nothing to restore"
        elif state == MODIFIED:
            found[path] = f"was modified when {version.ref} was registered (--allow-dirty); that content was never tracked"
        else:
            raw = lineage.get(POINTER + path)
            found[path] = json.loads(raw) if raw else {"md5": md5, "hash": "md5"}
    return found


def checkout_version(name: str, version: str, *, agent_dir: Path, config: Config) -> tuple[Restored, ...]:
    """Restore into ``agent_dir`` the datasets of ``name`` ``version`` (a number or a stage)."""
    from agentgov.core.types import AgentRef
    from agentgov.data.datasets import manifest_file
    from agentgov.registry.backend import connect
    from agentgov.registry.manifest import load_manifest
    from agentgov.registry.store import get

    manifest_path = manifest_file(agent_dir)
    local = load_manifest(manifest_path).name
    if local != name:
        raise DataError(f"{manifest_path} is agent '{local}', not '{name}'; pass --agent with the folder of {name}")
    ref = AgentRef(name, version=int(version)) if str(version).isdigit() else AgentRef(name, stage=version)
    found = get(connect(config), ref)
    datasets = recorded_datasets(found)
    if not datasets:
        raise DataError(f"{found.ref} records no datasets")
    return restore(manifest_path.parent, datasets, home=config.home)
