"""An agent's datasets: add one (DVC + manifest), compare all with what is tracked."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from agentgov.data.errors import DataError, DirtyDatasets
from agentgov.data.versioning import OK, DatasetState, dataset_states, restoring_git_on_failure, track

if TYPE_CHECKING:
    from agentgov.registry.manifest import Dataset

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
    suite: str | None = None  # the suite the manifest names for it now
    suite_attached: bool = False  # this add wrote the suite into the entry of a listed dataset
    suite_replaced: str | None = None  # the suite that entry named before, if any
    untracked_from_git: bool = False  # git tracked the file: it was taken out of git's index for DVC
    staged: tuple[str, ...] = ()  # what was staged in git (paths from the git root)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def manifest_file(agent_dir: Path) -> Path:
    from agentgov.registry.register import manifest_path_of

    return manifest_path_of(Path(agent_dir)).resolve()


def agent_folder_of(file: Path, default: Path = Path(".")) -> Path:
    """The nearest folder at or above ``file``'s that holds an ``agent.yaml``, else ``default``."""
    start = Path(file).resolve().parent
    for folder in (start, *start.parents):
        if (folder / "agent.yaml").is_file():
            return folder
    return default


def listed(file: Path, agent_dir: Path) -> Dataset | None:
    """The manifest's entry for ``file``, if the agent in ``agent_dir`` lists it."""
    from agentgov.registry.manifest import load_manifest

    manifest_path = manifest_file(agent_dir)
    path = relative_to_agent(file, manifest_path.parent)
    return next((d for d in load_manifest(manifest_path).datasets if d.path == path), None)


def relative_to_agent(file: Path, agent_dir: Path) -> str:
    """``file`` as the manifest writes it: relative to the agent folder, with '/'."""
    file, agent_dir = Path(file).resolve(), Path(agent_dir).resolve()
    try:
        return PurePosixPath(file.relative_to(agent_dir).as_posix()).as_posix()
    except ValueError:
        raise DataError(f"{file} is outside the agent folder {agent_dir}; keep datasets beside the agent (or pass --agent)") from None


def add_dataset(file: Path, *, agent_dir: Path, role: str | None = None, home: Path, suite: str | None = None) -> Added:
    """Track ``file`` with DVC and list it in the agent's manifest (once).

    Adding a file the manifest already lists re-tracks it (records its
    current content), which is how a changed dataset is accepted; a ``suite``
    given for it is written into its entry (attached, or replacing the one
    named), so attaching a contract is this one call. ``role`` defaults to the
    listed role, else ``eval``; another role than the manifest's is refused.
    If any step fails, git's index, the DVC files and the manifest are put
    back as they were.
    """
    from agentgov.data import manifest_edit
    from agentgov.registry.manifest import load_manifest

    if role is not None and role not in ROLES:
        raise DataError(f"unknown role '{role}' (expected one of: {', '.join(ROLES)})")
    manifest_path = manifest_file(agent_dir)
    manifest = load_manifest(manifest_path)
    agent_dir = manifest_path.parent
    path = relative_to_agent(file, agent_dir)
    listed = next((d for d in manifest.datasets if d.path == path), None)
    role = role or (listed.role if listed is not None else "eval")
    if listed is not None and listed.role != role:
        raise DataError(
            f"{path} is already in {manifest_path.name} as {listed.role} dataset"
            + (f" with suite {listed.suite}" if listed.suite else "")
            + f"; change its role there, or add it with --role {listed.role}"
        )
    replaces = listed is not None and suite is not None and listed.suite != suite
    with restoring_git_on_failure(agent_dir / path, agent_dir, also=(manifest_path,)):
        tracked = track(agent_dir / path, home=home, folder=agent_dir)
        if listed is None:
            manifest_edit.append_dataset(manifest_path, path, role, suite)
        elif replaces:
            assert suite is not None
            manifest_edit.set_dataset_suite(manifest_path, path, suite)
    out = tracked.out
    return Added(
        manifest.name, path, role, str(out["md5"]), out.get("size"), listed is None, tracked.dvc_initialised, tracked.pushed,
        suite=suite or (listed.suite if listed is not None else None),
        suite_attached=replaces,
        suite_replaced=listed.suite if replaces and listed is not None else None,
        untracked_from_git=tracked.untracked_from_git,
        staged=tracked.staged,
    )


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
