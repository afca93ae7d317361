"""An agent's datasets: add one (DVC + manifest), compare all with what is tracked."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from agentgov.data.errors import DataError, DirtyDatasets
from agentgov.data.versioning import OK, DatasetState, dataset_states, track

ROLES = ("eval", "train", "reference")


@dataclass(frozen=True)
class Added:
    """What ``agentgov data add`` did."""

    agent: str
    path: str  # relative to the agent folder, as written in the manifest
    role: str
    md5: str
    size: int | None
    manifest_updated: bool  # False when the manifest already listed it (the file was re-tracked)
    dvc_initialised: bool
    pushed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def manifest_file(agent_dir: Path) -> Path:
    from agentgov.registry.register import manifest_path_of

    return manifest_path_of(Path(agent_dir)).resolve()


def relative_to_agent(file: Path, agent_dir: Path) -> str:
    """``file`` as the manifest writes it: relative to the agent folder, with '/'."""
    file, agent_dir = Path(file).resolve(), Path(agent_dir).resolve()
    try:
        return PurePosixPath(file.relative_to(agent_dir).as_posix()).as_posix()
    except ValueError:
        raise DataError(f"{file} is outside the agent folder {agent_dir}; keep datasets beside the agent (or pass --agent)") from None


def add_dataset(file: Path, *, agent_dir: Path, role: str, home: Path, suite: str | None = None) -> Added:
    """Track ``file`` with DVC and list it in the agent's manifest (once).

    Adding a file the manifest already lists re-tracks it (records its
    current content), which is how a changed dataset is accepted; asking for
    another role or suite than the manifest's is refused.
    """
    from agentgov.data.manifest_edit import append_dataset
    from agentgov.registry.manifest import load_manifest

    if role not in ROLES:
        raise DataError(f"unknown role '{role}' (expected one of: {', '.join(ROLES)})")
    manifest_path = manifest_file(agent_dir)
    manifest = load_manifest(manifest_path)
    agent_dir = manifest_path.parent
    path = relative_to_agent(file, agent_dir)
    listed = next((d for d in manifest.datasets if d.path == path), None)
    if listed is not None and (listed.role != role or (suite and listed.suite != suite)):
        raise DataError(
            f"{path} is already in {manifest_path.name} as {listed.role} dataset"
            + (f" with suite {listed.suite}" if listed.suite else "")
            + "; change it there, or add it with the same role"
        )
    out, created, pushed = track(agent_dir / path, home=home, folder=agent_dir)
    if listed is None:
        append_dataset(manifest_path, path, role, suite)
    return Added(manifest.name, path, role, str(out["md5"]), out.get("size"), listed is None, created, pushed)


def status(agent_dir: Path) -> tuple[DatasetState, ...]:
    """Each dataset of the agent's manifest with its tracked md5 and its state."""
    from agentgov.registry.manifest import load_manifest

    manifest_path = manifest_file(agent_dir)
    return dataset_states(manifest_path.parent, load_manifest(manifest_path).datasets)


def refuse_dirty(states: tuple[DatasetState, ...], agent_dir: Path) -> None:
    """Raise :class:`DirtyDatasets` naming each dataset that is not as DVC tracks it, and the fix."""
    dirty = [s for s in states if s.state != OK]
    if not dirty:
        return
    import os

    def shown(state: DatasetState) -> str:
        try:
            return os.path.relpath(agent_dir / state.path)
        except ValueError:
            return str(agent_dir / state.path)

    what = "; ".join(f"{shown(s)} is {_explain(s.state)}" for s in dirty)
    fixes = " / ".join(f"`agentgov data add {shown(s)}`" for s in dirty if s.state != "missing")
    hint = (f"run {fixes} to record the current data, " if fixes else "") + "or register with --allow-dirty"
    raise DirtyDatasets(what, hint=hint)


def _explain(state: str) -> str:
    return {
        "modified": "modified since `agentgov data add`",
        "untracked": "not tracked by DVC",
        "missing": "missing",
    }.get(state, state)
