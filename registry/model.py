"""What an agent version is, as agentgov reads it from MLflow."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentgov.core.types import AgentRef, Stage

# Aliases that mark stages; one version each at most.
STAGE_ALIASES: dict[Stage, str] = {Stage.SHADOW: "shadow", Stage.CANARY: "canary", Stage.PRODUCTION: "production"}
PREVIOUS_PRODUCTION = "previous-production"
ALIASES = (*STAGE_ALIASES.values(), PREVIOUS_PRODUCTION)

TAG_AGENT = "agentgov.agent"
TAG_STAGE = "agentgov.stage"
TAG_STATUS = "agentgov.status"  # registering -> ready, or failed
TAG_MANIFEST = "agentgov.manifest"
TAG_DECISION = "agentgov.decision."  # + stage: the id of the decision that moved it there
LINEAGE = "agentgov.lineage."
TAG_GATE = "agentgov.gate."  # + stage: the last decision about entering it (JSON)
TAG_APPROVAL = "agentgov.approval."  # + stage + "." + approver (JSON)

# Evidence the gate's policies read, each a JSON version tag written by the
# step that produced it: data validation at registration, offline eval,
# drift evaluation, shadow and canary rollouts.
TAG_DATA_VALIDATION = "agentgov.data_validation"
TAG_EVAL = "agentgov.eval"
TAG_DRIFT = "agentgov.drift"
TAG_ROLLOUT = "agentgov.rollout"
TAG_PENDING_MOVE = "agentgov.move.pending"  # on the registered model: a stage move begun and not yet finished (JSON)

READY = "ready"


@dataclass(frozen=True)
class AgentVersion:
    name: str
    version: int
    stage: Stage | None
    status: str
    aliases: tuple[str, ...]
    source: str
    created_at: int  # ms since the epoch, MLflow's clock
    tags: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None  # the registration run, which holds the version's reports

    @property
    def ref(self) -> AgentRef:
        return AgentRef(self.name, version=self.version)

    @property
    def lineage(self) -> dict[str, str]:
        return {k.removeprefix(LINEAGE): v for k, v in self.tags.items() if k.startswith(LINEAGE)}

    @property
    def manifest(self) -> dict[str, Any]:
        raw = self.tags.get(TAG_MANIFEST)
        return json.loads(raw) if raw else {}

    def tag_json(self, key: str) -> Any:
        """A JSON tag's value, ``None`` when absent; :class:`ValueError` when not JSON."""
        raw = self.tags.get(key)
        return None if raw is None else json.loads(raw)

    @property
    def decisions(self) -> dict[str, str]:
        return {k.removeprefix(TAG_DECISION): v for k, v in self.tags.items() if k.startswith(TAG_DECISION)}

    @property
    def usable(self) -> bool:
        return self.status == READY

    def lineage_summary(self) -> str:
        lineage = self.lineage
        commit = lineage.get("git_commit", "?")
        if commit == "none":
            commit = "not in git"
        dirty = " (dirty)" if lineage.get("git_dirty") == "true" else ""
        datasets = [k for k in lineage if k.startswith("dataset.")]
        untracked = sum(1 for k in datasets if lineage[k] in ("untracked", "unreadable"))
        noun = "dataset" if len(datasets) == 1 else "datasets"
        data = f", {len(datasets)} {noun}" + (f" ({untracked} untracked)" if untracked else "") if datasets else ""
        return f"{commit[:10]}{dirty}{data}"

    @classmethod
    def from_mlflow(cls, mv: Any) -> AgentVersion:
        tags = dict(mv.tags or {})
        stage = tags.get(TAG_STAGE)
        return cls(
            name=mv.name,
            version=int(mv.version),
            stage=Stage.parse(stage) if stage else None,
            status=tags.get(TAG_STATUS, "unknown"),
            aliases=tuple(sorted(getattr(mv, "aliases", None) or ())),
            source=mv.source,
            created_at=int(mv.creation_timestamp or 0),
            tags=tags,
            run_id=getattr(mv, "run_id", None) or None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "stage": self.stage.value if self.stage else None,
            "status": self.status,
            "aliases": list(self.aliases),
            "source": self.source,
            "created_at": self.created_at,
            "registered_by": self.lineage.get("registered_by"),
            "registered_at": self.lineage.get("registered_at"),
            "lineage": self.lineage,
            "decisions": self.decisions,
        }
