"""What runs where: one JSON record per agent and target in ``<home>/deployments/``.

A record names the version, the artifact, the pid (with its start time), the
port and the log. A record whose process is gone, or whose pid now belongs to
another process, is *stale*: it says nothing runs, and the next deploy or
undeploy replaces or removes it.
"""

from __future__ import annotations

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


def path(home: Path, name: str, target: str) -> Path:
    return folder(home) / f"{name}.{target}.json"


def log_path(home: Path, name: str, target: str) -> Path:
    return home / "logs" / f"deploy-{name}.{target}.log"


def now() -> str:
    return utcnow().isoformat(timespec="seconds")


def write(home: Path, record: ProcessRecord) -> Path:
    """Write the record atomically (a reader never sees half of one)."""
    target = path(home, record.name, record.target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, target)
    return target


def read(home: Path, name: str, target: str) -> ProcessRecord | None:
    """The record, or None when there is none or it cannot be read (a torn or hand-edited file counts as none)."""
    found = path(home, name, target)
    try:
        data = json.loads(found.read_text(encoding="utf-8"))
        return ProcessRecord(**{k: data[k] for k in ProcessRecord.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(home: Path, name: str, target: str) -> None:
    path(home, name, target).unlink(missing_ok=True)


def all_records(home: Path) -> list[ProcessRecord]:
    found = []
    for file in sorted(folder(home).glob("*.json")):
        name, _, target = file.stem.rpartition(".")
        record = read(home, name, target)
        if record is not None:
            found.append(record)
    return found
