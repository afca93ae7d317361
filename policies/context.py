"""What a policy can see about the promotion it judges, fetched only when asked.

Each policy gets its own :class:`PolicyContext`: its parameters, the request
(which version, which stage, who asks) and lazy access to the evidence, which
is read from the registry once per gate run and shared by all policies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from agentgov.core.errors import InvalidValue
from agentgov.core.types import AgentRef, Approval, PolicyResult, PolicyStatus, Stage, utcnow
from agentgov.registry.model import TAG_DATA_VALIDATION, TAG_DRIFT, TAG_EVAL, TAG_ROLLOUT, AgentVersion

if TYPE_CHECKING:
    from agentgov.registry.loading import LoadedAgent


@dataclass(frozen=True)
class GateRequest:
    """Who asks to move which version where, and what they vouch for."""

    agent: AgentRef
    target: Stage
    actor: str
    at: datetime = field(default_factory=utcnow)
    # policy -> the reason given for an emergency override (change-freeze)
    overrides: Mapping[str, str] = field(default_factory=dict)


class Evidence(Protocol):
    """Where a context reads from. :class:`RegistryEvidence` reads MLflow and the audit log."""

    def version(self) -> AgentVersion: ...

    def production(self) -> AgentVersion | None: ...

    def approvals(self) -> Sequence[Approval]: ...

    def manifest_text(self) -> str | None: ...

    def load_agent(self) -> LoadedAgent: ...


class RegistryEvidence:
    """Evidence from the registry and the audit log, each read at most once."""

    def __init__(self, config: Any, client: Any, audit: Any, ref: AgentRef, version: AgentVersion | None = None) -> None:
        self._config, self._client, self._audit, self._ref = config, client, audit, ref
        self._cache: dict[str, Any] = {} if version is None else {"version": version}
        self._lock = threading.RLock()  # a load may read other evidence (manifest_text reads version)

    def _once(self, key: str, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = load()
            return self._cache[key]

    def version(self) -> AgentVersion:
        from agentgov.registry.store import get

        return self._once("version", lambda: get(self._client, self._ref))

    def production(self) -> AgentVersion | None:
        from agentgov.registry.store import aliases, get

        def load() -> AgentVersion | None:
            version = aliases(self._client, self._ref.name).get("production")
            return None if version is None else get(self._client, AgentRef(self._ref.name, version=version))

        return self._once("production", load)

    def approvals(self) -> Sequence[Approval]:
        from agentgov.policies.approvals import approvals_for

        return self._once("approvals", lambda: tuple(approvals_for(self._audit, self._ref)))

    def manifest_text(self) -> str | None:
        from agentgov.registry.store import manifest_text

        return self._once("manifest_text", lambda: manifest_text(self._client, self.version()))

    def load_agent(self) -> LoadedAgent:
        from agentgov.registry.loading import load_agent

        return self._once("agent", lambda: load_agent(self._ref, self._config))


class PolicyContext:
    """Everything about the candidate one policy may use. Nothing is read until asked for."""

    def __init__(self, policy: str, params: Mapping[str, Any], request: GateRequest, evidence: Evidence) -> None:
        self.policy = policy
        self.params = dict(params)
        self.request = request
        self._evidence = evidence

    # -- the request ----------------------------------------------------------

    @property
    def agent(self) -> AgentRef:
        return self.request.agent

    @property
    def target(self) -> Stage:
        return self.request.target

    @property
    def actor(self) -> str:
        return self.request.actor

    @property
    def now(self) -> datetime:
        return self.request.at

    @property
    def override(self) -> str | None:
        """The emergency-override reason given for this policy, if any."""
        return self.request.overrides.get(self.policy)

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    # -- the candidate ----------------------------------------------------------

    @cached_property
    def version(self) -> AgentVersion:
        return self._evidence.version()

    @property
    def manifest(self) -> dict[str, Any]:
        return self.version.manifest

    @property
    def lineage(self) -> dict[str, str]:
        return self.version.lineage

    @property
    def registrant(self) -> str | None:
        return self.lineage.get("registered_by")

    @property
    def risk_tier(self) -> str:
        return str(self.manifest.get("risk_tier", "high"))

    @property
    def success_criteria(self) -> dict[str, Any]:
        return {k: v for k, v in (self.manifest.get("success_criteria") or {}).items() if v is not None}

    def manifest_text(self) -> str | None:
        """``agent.yaml`` exactly as registered, from the version's artifacts."""
        return self._evidence.manifest_text()

    def load_agent(self) -> LoadedAgent:
        """The registered agent, loaded from the registry, ready to ``act``."""
        return self._evidence.load_agent()

    # -- evidence from other steps (None until that step has run) ---------------

    @property
    def data_validation(self) -> dict[str, Any] | None:
        return self._json(TAG_DATA_VALIDATION)

    @property
    def eval_results(self) -> dict[str, Any] | None:
        return self._json(TAG_EVAL)

    @property
    def drift(self) -> dict[str, Any] | None:
        return self._json(TAG_DRIFT)

    @property
    def rollout(self) -> dict[str, Any] | None:
        return self._json(TAG_ROLLOUT)

    @property
    def approvals(self) -> Sequence[Approval]:
        return self._evidence.approvals()

    @property
    def production(self) -> AgentVersion | None:
        """The version in production now, or ``None``."""
        return self._evidence.production()

    def _json(self, tag: str) -> dict[str, Any] | None:
        try:
            value = self.version.tag_json(tag)
        except ValueError:
            raise InvalidValue(f"the {tag} tag on {self.agent} is not valid JSON") from None
        if value is not None and not isinstance(value, dict):
            raise InvalidValue(f"the {tag} tag on {self.agent} is not a JSON object")
        return value

    # -- results ------------------------------------------------------------------

    def result(self, status: PolicyStatus | str, reason: str, *, evidence: Sequence[str] = (), **metrics: float) -> PolicyResult:
        return PolicyResult(self.policy, PolicyStatus.parse(status), reason, tuple(evidence), metrics)

    def passed(self, reason: str, *, evidence: Sequence[str] = (), **metrics: float) -> PolicyResult:
        return self.result(PolicyStatus.PASS, reason, evidence=evidence, **metrics)

    def warned(self, reason: str, *, evidence: Sequence[str] = (), **metrics: float) -> PolicyResult:
        return self.result(PolicyStatus.WARN, reason, evidence=evidence, **metrics)

    def failed(self, reason: str, *, evidence: Sequence[str] = (), **metrics: float) -> PolicyResult:
        return self.result(PolicyStatus.FAIL, reason, evidence=evidence, **metrics)

    def inconclusive(self, reason: str, *, evidence: Sequence[str] = (), **metrics: float) -> PolicyResult:
        return self.result(PolicyStatus.INCONCLUSIVE, reason, evidence=evidence, **metrics)

    def no_evidence(self, what: str, how: str) -> PolicyResult:
        """``error: no evidence``: what is missing, and the command that produces it."""
        return self.result(PolicyStatus.ERROR, f"no evidence: {what} ({how})")
