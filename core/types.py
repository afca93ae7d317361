"""Values that cross the plugin boundary.

They are frozen: a plugin that receives a :class:`Decision` or an
:class:`Event` cannot change what other plugins or the audit log see. Each
one converts to and from plain JSON-ready dicts with ``to_dict`` and
``from_dict``, which is how they are stored.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from numbers import Real
from types import MappingProxyType
from typing import Any

from agentgov.core.errors import InvalidValue

SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"  # DNS-safe: also the manifest schema's name pattern
_SLUG = re.compile(SLUG_PATTERN)


def is_slug(text: str) -> bool:
    """True for DNS-safe names: lowercase letters, digits and inner '-', at most 63."""
    return bool(_SLUG.match(text))


def utcnow() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


class _ChoiceEnum(enum.StrEnum):
    """A string enum whose ``parse`` names the valid choices on error."""

    @classmethod
    def parse(cls, value: str | _ChoiceEnum) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise InvalidValue(
                f"unknown {cls._label()} {value!r}: expected one of {choices}"
            ) from None

    @classmethod
    def _label(cls) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()

    def __str__(self) -> str:
        return self.value


class Stage(_ChoiceEnum):
    """Where an agent version stands. Listed in promotion order."""

    CANDIDATE = "candidate"
    SHADOW = "shadow"
    CANARY = "canary"
    PRODUCTION = "production"
    ARCHIVED = "archived"

    @property
    def rank(self) -> int:
        return list(Stage).index(self)


class PolicyStatus(_ChoiceEnum):
    """A policy's verdict. ``error`` and ``fail`` block; ``inconclusive`` waits."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    INCONCLUSIVE = "inconclusive"

    @property
    def blocks(self) -> bool:
        return self in (PolicyStatus.FAIL, PolicyStatus.ERROR)


class PolicyMode(_ChoiceEnum):
    """How a configured policy's verdict counts.

    ``enforce``: fail and error block, inconclusive waits for review.
    ``warn``: the verdict is shown and recorded but never blocks (advisory).
    ``dry-run``: evaluated and recorded only, to see what a new policy would do.
    """

    ENFORCE = "enforce"
    WARN = "warn"
    DRY_RUN = "dry-run"


class Outcome(_ChoiceEnum):
    """What the gate decided."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    NEEDS_REVIEW = "needs-review"


class EventKind(_ChoiceEnum):
    """Lifecycle events that ``agentgov_on_event`` receives."""

    REGISTERED = "registered"
    PROMOTED = "promoted"
    BLOCKED = "blocked"
    NEEDS_REVIEW = "needs-review"
    ROLLED_BACK = "rolled-back"
    APPROVED = "approved"
    ROLLOUT_STEP = "rollout-step"


@dataclass(frozen=True)
class AgentRef:
    """Names an agent, one of its versions, or the version holding a stage.

    ``AgentRef.parse`` reads the forms people type: ``support-router``,
    ``support-router/3`` (a version, as in MLflow's ``models:/name/3``) and
    ``support-router@production`` (a stage, as in ``models:/name@alias``).
    """

    name: str
    version: int | None = None
    stage: Stage | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _SLUG.match(self.name):
            raise InvalidValue(
                f"invalid agent name {self.name!r}: use lowercase letters, digits "
                "and '-', starting and ending with a letter or digit (at most 63)"
            )
        if self.version is not None and self.stage is not None:
            raise InvalidValue(f"agent reference {self.name!r} names both a version and a stage")
        if self.version is not None:
            if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
                raise InvalidValue(f"invalid version {self.version!r} of agent {self.name!r}: expected a positive integer")
        if self.stage is not None:
            object.__setattr__(self, "stage", Stage.parse(self.stage))

    @classmethod
    def parse(cls, text: str) -> AgentRef:
        text = text.strip()
        if "@" in text:
            name, _, stage = text.partition("@")
            return cls(name, stage=Stage.parse(stage))
        if "/" in text:
            name, _, version = text.partition("/")
            if not version.isdigit():
                raise InvalidValue(f"invalid version {version!r} in {text!r}: expected NAME/NUMBER")
            return cls(name, version=int(version))
        return cls(text)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.stage is not None:
            return f"{self.name}@{self.stage.value}"
        return self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "stage": self.stage.value if self.stage else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentRef:
        return cls(data["name"], version=data.get("version"), stage=data.get("stage"))


@dataclass(frozen=True)
class PolicyResult:
    """One policy's verdict on one promotion.

    ``evidence`` holds links a person can follow (file paths, MLflow artifact
    URIs); ``metrics`` the numbers the verdict rests on. A policy fills those;
    the gate adds ``mode``, ``plugin`` and ``seconds`` when it records them.
    """

    policy: str
    status: PolicyStatus
    reason: str
    evidence: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    mode: PolicyMode = PolicyMode.ENFORCE
    plugin: str = ""
    seconds: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", PolicyStatus.parse(self.status))
        object.__setattr__(self, "mode", PolicyMode.parse(self.mode))
        if not isinstance(self.policy, str) or not self.policy:
            raise InvalidValue(f"policy result has no policy name: {self.policy!r}")
        if not isinstance(self.reason, str):
            raise InvalidValue(f"policy {self.policy!r}: reason must be a string, got {type(self.reason).__name__}")
        if isinstance(self.evidence, str) or not all(isinstance(e, str) for e in self.evidence):
            raise InvalidValue(f"policy {self.policy!r}: evidence must be a sequence of strings")
        object.__setattr__(self, "evidence", tuple(self.evidence))
        for key, value in dict(self.metrics).items():
            if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, Real):
                raise InvalidValue(f"policy {self.policy!r}: metric {key!r} must be a number, got {value!r}")
        object.__setattr__(self, "metrics", _frozen_mapping(self.metrics))

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "status": self.status.value,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "metrics": dict(self.metrics),
            "mode": self.mode.value,
            "plugin": self.plugin,
            "seconds": self.seconds,
        }

    @property
    def counts(self) -> bool:
        """Whether this verdict can hold a promotion back (its mode is ``enforce``)."""
        return self.mode is PolicyMode.ENFORCE

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyResult:
        return cls(
            policy=data["policy"],
            status=data["status"],
            reason=data["reason"],
            evidence=tuple(data.get("evidence", ())),
            metrics=data.get("metrics", {}),
            mode=data.get("mode", PolicyMode.ENFORCE),
            plugin=data.get("plugin", ""),
            seconds=data.get("seconds", 0.0),
        )


@dataclass(frozen=True)
class Decision:
    """The gate's answer to "may this version move to this stage?".

    ``accepted`` maps each inconclusive policy a person accepted to who did;
    ``overrides`` maps each policy overridden in an emergency to the reason
    given. Both are part of the record, like the results.
    """

    agent: AgentRef
    target: Stage
    outcome: Outcome
    results: tuple[PolicyResult, ...]
    actor: str
    config_hash: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime = field(default_factory=utcnow)
    accepted: Mapping[str, str] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""

    def __post_init__(self) -> None:
        if self.agent.version is None:
            raise InvalidValue(f"a decision is about one version; {self.agent} names none")
        object.__setattr__(self, "target", Stage.parse(self.target))
        object.__setattr__(self, "outcome", Outcome.parse(self.outcome))
        object.__setattr__(self, "results", tuple(self.results))
        object.__setattr__(self, "accepted", _frozen_mapping(self.accepted))
        object.__setattr__(self, "overrides", _frozen_mapping(self.overrides))

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent": self.agent.to_dict(),
            "target": self.target.value,
            "outcome": self.outcome.value,
            "results": [r.to_dict() for r in self.results],
            "actor": self.actor,
            "config_hash": self.config_hash,
            "at": self.at.isoformat(),
            "accepted": dict(self.accepted),
            "overrides": dict(self.overrides),
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            agent=AgentRef.from_dict(data["agent"]),
            target=data["target"],
            outcome=data["outcome"],
            results=tuple(PolicyResult.from_dict(r) for r in data["results"]),
            actor=data["actor"],
            config_hash=data["config_hash"],
            id=data["id"],
            at=_parse_time(data["at"]),
            accepted=data.get("accepted", {}),
            overrides=data.get("overrides", {}),
            summary=data.get("summary", ""),
        )


@dataclass(frozen=True)
class Approval:
    """A person's sign-off on moving one version to one stage."""

    agent: AgentRef
    stage: Stage
    approver: str
    comment: str = ""
    at: datetime = field(default_factory=utcnow)
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.agent.version is None:
            raise InvalidValue(f"an approval is for one version; {self.agent} names none")
        object.__setattr__(self, "stage", Stage.parse(self.stage))
        if not self.approver:
            raise InvalidValue("an approval needs an approver")

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or utcnow()) >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.to_dict(),
            "stage": self.stage.value,
            "approver": self.approver,
            "comment": self.comment,
            "at": self.at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Approval:
        expires = data.get("expires_at")
        return cls(
            agent=AgentRef.from_dict(data["agent"]),
            stage=data["stage"],
            approver=data["approver"],
            comment=data.get("comment", ""),
            at=_parse_time(data["at"]),
            expires_at=_parse_time(expires) if expires else None,
        )


@dataclass(frozen=True)
class Event:
    """Something that happened to an agent, for notification and audit plugins."""

    kind: EventKind
    agent: AgentRef
    actor: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    decision_id: str | None = None
    at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind.parse(self.kind))
        object.__setattr__(self, "payload", _frozen_mapping(self.payload))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "agent": self.agent.to_dict(),
            "actor": self.actor,
            "payload": dict(self.payload),
            "decision_id": self.decision_id,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            kind=data["kind"],
            agent=AgentRef.from_dict(data["agent"]),
            actor=data["actor"],
            payload=data.get("payload", {}),
            decision_id=data.get("decision_id"),
            at=_parse_time(data["at"]),
        )


def stages(values: Iterable[str | Stage]) -> frozenset[Stage]:
    """Parse a list of stage names, as plugins declare them."""
    return frozenset(Stage.parse(v) for v in values)
