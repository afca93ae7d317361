"""Where an agent version came from: git, the manifest, its datasets, the software."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml

from agentgov.core.types import utcnow

LIBRARIES = ("agentgov", "mlflow", "prefect", "bentoml", "evidently", "great-expectations", "dvc", "pluggy")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(folder: Path) -> tuple[str, bool | None]:
    """(commit, dirty) of the repository holding ``folder``; ("none", None) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=folder, capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired):
        return "none", None
    return commit, bool(status.strip())


POINTER_MAX_BYTES = 64 << 10  # a DVC pointer is a few lines; a larger one is not read


def pointer_out(dataset: Path) -> dict[str, str | int] | None:
    """The scalar fields of the first ``outs`` entry of ``dataset``'s DVC pointer; None when it is unreadable.

    Bounded: the file is read up to :data:`POINTER_MAX_BYTES`, and only string or
    integer fields are kept, so a hostile pointer (an alias bomb, say) is never expanded.
    """
    pointer = dataset.with_name(dataset.name + ".dvc")
    try:
        with open(pointer, "rb") as f:
            raw = f.read(POINTER_MAX_BYTES + 1)
        if len(raw) > POINTER_MAX_BYTES:
            return None
        out = yaml.safe_load(raw.decode("utf-8"))["outs"][0]
        fields = {key: out[key] for key in ("md5", "size", "hash") if key in out}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError, IndexError):
        return None
    if not isinstance(fields.get("md5"), str | int) or isinstance(fields.get("md5"), bool):
        return None
    return {key: value for key, value in fields.items() if isinstance(value, str | int) and not isinstance(value, bool)}


def dvc_hash(dataset: Path) -> str:
    """The md5 DVC recorded for ``dataset`` in its ``.dvc`` file, or ``untracked``."""
    pointer = dataset.with_name(dataset.name + ".dvc")
    if not pointer.is_file():
        return "untracked"
    out = pointer_out(dataset)
    return "unreadable" if out is None else str(out["md5"])


def dvc_pointer(dataset: Path) -> str | None:
    """The ``outs`` entry of ``dataset``'s DVC pointer as compact JSON (enough to restore it), or None."""
    out = pointer_out(dataset)
    if out is None:
        return None
    return json.dumps({**out, "md5": str(out["md5"])}, sort_keys=True, separators=(",", ":"))


def library_versions(names: Iterable[str] = LIBRARIES) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def collect(agent_dir: Path, manifest_path: Path, dataset_paths: Iterable[str], actor: str) -> dict[str, str]:
    """Lineage as flat ``agentgov.lineage.*`` tags for the model version."""
    commit, dirty = git_state(agent_dir)
    tags = {
        "agentgov.lineage.git_commit": commit,
        "agentgov.lineage.git_dirty": "unknown" if dirty is None else str(dirty).lower(),
        "agentgov.lineage.manifest_sha256": sha256_file(manifest_path),
        "agentgov.lineage.registered_by": actor,
        "agentgov.lineage.registered_at": utcnow().isoformat(),
    }
    for path in dataset_paths:
        tags[f"agentgov.lineage.dataset.{path}"] = dvc_hash(agent_dir / path)
        pointer = dvc_pointer(agent_dir / path)
        if pointer is not None:
            tags[f"agentgov.lineage.dvc.{path}"] = pointer
    for name, installed in library_versions().items():
        tags[f"agentgov.lineage.version.{name}"] = installed
    return tags
