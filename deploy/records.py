"""What runs where: one JSON record per agent and target in ``<home>/deployments/``.

A record names the version, the artifact, the pid (with its start time), the
port and the log. An agent has one main deployment per target
(``<name>.<target>.json``, what ``agentgov deploy`` replaces) and any number of
versions served *alongside* it (``<name>.<target>.v<N>.json``): the canary and
shadow of a rollout, each its own process, which a gateway finds by version.
A record whose process is gone, or whose pid now belongs to another process,
is *stale*: it says nothing runs, and the next deploy or undeploy replaces or
removes it.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentgov.core.types import utcnow
from agentgov.deploy import process


@dataclass(frozen=True)
class ProcessRecord:
    target: str
    name: str
    version: int
    artifact: str
    pid: int
    started: str | None  # the process's start time, against pid reuse
    port: int
    url: str
    log: str
    deployed_at: str

    @property
    def running(self) -> bool:
        return process.alive(self.pid, self.started)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def folder(home: Path) -> Path:
    return home / "deployments"


def path(home: Path, name: str, target: str, alongside: int | None = None) -> Path:
    """The main deployment's record, or with ``alongside`` the record of that version served beside it."""
    return folder(home) / (f"{name}.{target}.json" if alongside is None else f"{name}.{target}.v{alongside}.json")


def log_path(home: Path, name: str, target: str, alongside: int | None = None) -> Path:
    return home / "logs" / (f"deploy-{name}.{target}.log" if alongside is None else f"deploy-{name}.{target}.v{alongside}.log")


def now() -> str:
    return utcnow().isoformat(timespec="seconds")


def write(home: Path, record: ProcessRecord, *, alongside: bool = False) -> Path:
    """Write the record atomically (a reader never sees half of one); ``alongside``: as a version beside the main one."""
    target = path(home, record.name, record.target, record.version if alongside else None)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, target)
    return target


def read(home: Path, name: str, target: str, alongside: int | None = None) -> ProcessRecord | None:
    """The record, or None when there is none or it cannot be read (a torn or hand-edited file counts as none)."""
    return _load(path(home, name, target, alongside))


def remove(home: Path, name: str, target: str, alongside: int | None = None) -> None:
    path(home, name, target, alongside).unlink(missing_ok=True)


def served_alongside(home: Path, name: str, target: str) -> list[ProcessRecord]:
    """The versions of ``name`` served beside its main deployment on ``target``, by version."""
    found = [_load(file) for file in folder(home).glob(f"{glob.escape(name)}.{glob.escape(target)}.v*.json")]
    return sorted((r for r in found if r is not None and r.name == name), key=lambda r: r.version)


def serving(home: Path, name: str, target: str, version: int) -> ProcessRecord | None:
    """The running record that serves ``version`` of ``name`` on ``target`` (main or alongside), if any."""
    for record in (read(home, name, target), read(home, name, target, version)):
        if record is not None and record.version == version and record.running:
            return record
    return None


def all_records(home: Path) -> list[ProcessRecord]:
    found = [_load(file) for file in sorted(folder(home).glob("*.json"))]
    return [r for r in found if r is not None]


def _load(file: Path) -> ProcessRecord | None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return ProcessRecord(**{k: data[k] for k in ProcessRecord.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None
