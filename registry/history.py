"""Which version held each stage, at any moment, from the audit log.

Every stage change is a ``stage.change`` audit record (see
:func:`agentgov.registry.stages.apply`) carrying the aliases before and after
it and the id of the decision that allowed it; the ``decision`` record with
that id says why. The audit log is the record: MLflow's aliases can be edited
by hand, so :func:`mismatches` compares the two instead of trusting either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agentgov.core.audit import AuditLog
from agentgov.core.errors import InvalidValue
from agentgov.core.types import Stage, utcnow
from agentgov.registry.model import ALIASES, STAGE_ALIASES

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*(?:ago)?\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "sec": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class StageChange:
    """One stage change as the audit log recorded it."""

    seq: int
    at: datetime
    actor: str
    agent: str
    version: int
    source: str | None
    target: str
    rollback: bool
    aliases_before: Mapping[str, int]
    aliases_after: Mapping[str, int]
    decision_id: str | None
    reason: str = ""

    def moved(self, alias: str) -> bool:
        return self.aliases_before.get(alias) != self.aliases_after.get(alias)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "agent": self.agent,
            "version": self.version,
            "from": self.source,
            "to": self.target,
            "rollback": self.rollback,
            "aliases_before": dict(self.aliases_before),
            "aliases_after": dict(self.aliases_after),
            "decision_id": self.decision_id,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Holder:
    """The version holding a stage at some moment, and the change that put it there."""

    stage: str
    version: int | None
    since: StageChange | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "version": self.version,
            "since": self.since.at.isoformat() if self.since else None,
            "by": self.since.actor if self.since else None,
            "decision_id": self.since.decision_id if self.since else None,
        }


@dataclass(frozen=True)
class Mismatch:
    """An MLflow alias that is not where the audit log last put it."""

    alias: str
    recorded: int | None
    actual: int | None

    def __str__(self) -> str:
        def show(version: int | None) -> str:
            return f"v{version}" if version is not None else "no version"

        return (
            f"MLflow alias {self.alias} points to {show(self.actual)}, but the audit log says {show(self.recorded)} holds it "
            "(edited outside agentgov?); the audit log is the record"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "recorded": self.recorded, "actual": self.actual}


@dataclass(frozen=True)
class History:
    agent: str
    changes: tuple[StageChange, ...] = field(default_factory=tuple)

    def held_at(self, at: datetime, stages: Iterable[str] | None = None) -> list[Holder]:
        """Who held each stage (shadow, canary, production by default) at the instant ``at``."""
        at = _aware(at)
        wanted = list(stages) if stages is not None else list(STAGE_ALIASES.values())
        holders: dict[str, Holder] = {s: Holder(s, None) for s in wanted}
        for change in self.changes:  # in audit order; each change carries the whole alias state after it
            if change.at > at:
                continue  # not break: records from machines whose clocks disagree may be out of time order
            for alias in wanted:
                version = change.aliases_after.get(alias)
                if version != holders[alias].version:
                    holders[alias] = Holder(alias, version, change if version is not None else None)
        return [holders[s] for s in wanted]

    def latest_aliases(self) -> dict[str, int]:
        return dict(self.changes[-1].aliases_after) if self.changes else {}

    def mismatches(self, current: Mapping[str, int]) -> list[Mismatch]:
        """Where MLflow's aliases (``current``) differ from what the last recorded change left."""
        recorded = self.latest_aliases()
        return [
            Mismatch(alias, recorded.get(alias), current.get(alias))
            for alias in ALIASES
            if recorded.get(alias) != current.get(alias)
        ]


def load(audit: AuditLog, agent: str) -> History:
    """Every stage change of ``agent``, oldest first, each with the reason its decision gave."""
    decisions: dict[str, str] = {}
    raw: list[Any] = []
    for record in audit.records(subject_prefix=agent):
        if record.action == "decision":
            decisions[str(record.payload.get("id"))] = _reason(record.payload)
        elif record.action == "stage.change" and record.payload.get("agent", agent) == agent:
            raw.append(record)
    changes = []
    for record in raw:
        payload = record.payload
        decision_id = payload.get("decision_id")
        changes.append(
            StageChange(
                seq=record.seq,
                at=_aware(datetime.fromisoformat(record.time)),
                actor=record.actor,
                agent=agent,
                version=int(payload.get("version") or record.subject.rpartition("/")[2]),
                source=payload.get("from"),
                target=str(payload.get("to")),
                rollback=bool(payload.get("rollback")),
                aliases_before=_aliases(payload.get("aliases_before")),
                aliases_after=_aliases(payload.get("aliases_after")),
                decision_id=decision_id,
                reason=decisions.get(str(decision_id), ""),
            )
        )
    return History(agent, tuple(changes))


def _reason(decision: Mapping[str, Any]) -> str:
    """The decision's own summary (or its verdicts), and who accepted or overrode what."""
    results = "; ".join(f"{r.get('policy')}: {r.get('reason')}" for r in decision.get("results") or () if isinstance(r, Mapping))
    parts = [str(decision.get("summary") or (f"{decision.get('outcome', '?')}: {results}" if results else decision.get("outcome", "")))]
    accepted = decision.get("accepted") or {}
    if accepted:
        parts.append("inconclusive accepted: " + ", ".join(f"{policy} by {who}" for policy, who in accepted.items()))
    overrides = decision.get("overrides") or {}
    if overrides:
        parts.append("overridden: " + ", ".join(f"{policy} ({why})" for policy, why in overrides.items()))
    return "; ".join(parts)


def _aliases(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (value or {}).items()}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_moment(text: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 (naive means UTC), ``now``, or a time ago such as ``90s``, ``15m``, ``2h``, ``3d``, ``1w``."""
    text = text.strip()
    now = now or utcnow()
    if text.lower() == "now":
        return now
    ago = _AGO.match(text)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2).lower()]: float(ago.group(1))})
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidValue(
            f"cannot read the time {text!r}: expected ISO 8601 like 2026-11-24T18:00:00Z (no zone means UTC) "
            "or a time ago like 30m, 2h or 3d"
        ) from None
    return _aware(moment)


def stage_alias(stage: str) -> str:
    """The alias of a stage people name with ``--stage``: shadow, canary or production."""
    parsed = Stage.parse(stage)
    if parsed not in STAGE_ALIASES:
        held = ", ".join(STAGE_ALIASES.values())
        raise InvalidValue(f"stage {parsed.value} is not held by one version; history covers {held}")
    return STAGE_ALIASES[parsed]
