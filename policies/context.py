"""What a policy can see about the promotion it judges, fetched only when asked.

Each policy gets its own :class:`PolicyContext`: its parameters, the request
(which version, which stage, who asks) and lazy access to the evidence. The
evidence is read from the registry at most once per gate run
(:class:`EvidenceReads`) and kept as JSON text, which nothing can change; each
policy is handed objects built afresh from that text, read-only where the type
allows (``MappingProxyType`` for the version's tags, the request's overrides
and the parameters; frozen dataclasses and tuples elsewhere). So whatever a
policy does to what it was given, by ``object.__setattr__`` past ``frozen`` or
through the garbage collector's list of live objects, the next policy and the
gate's own decision do not see it.

That protects the gate from tampering through the objects a policy receives.
A policy runs as Python code in the gate's process, though, and code that sets
out to reach the gate's private state (its frames, its modules) can; run a
policy you do not trust with ``isolation = "process"``, where only its verdict,
as JSON, comes back.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from agentgov.core.errors import InvalidValue
from agentgov.core.types import AgentRef, Approval, PolicyResult, PolicyStatus, Stage, utcnow
from agentgov.registry.model import TAG_DATA_VALIDATION, TAG_DRIFT, TAG_EVAL, TAG_ROLLOUT, AgentVersion

if TYPE_CHECKING:
    from agentgov.registry.loading import LoadedAgent


@dataclass(frozen=True)
class GateRequest:
    """Who asks to move which version where, and what they vouch for.

    ``overrides`` is a read-only copy of the mapping given.
    """

    agent: AgentRef
    target: Stage
    actor: str
    at: datetime = field(default_factory=utcnow)
    # policy -> the reason given for an emergency override (change-freeze)
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Stage.parse(self.target))
        overrides = dict(self.overrides or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in overrides.items()):
            raise InvalidValue("overrides must map policy names to reasons (strings)")
        object.__setattr__(self, "overrides", MappingProxyType(overrides))

    def to_json(self) -> str:
        """The request as JSON text: how the gate keeps its own copy, out of every policy's reach."""
        return json.dumps(
            {"agent": self.agent.to_dict(), "target": self.target.value, "actor": self.actor, "at": self.at.isoformat(), "overrides": dict(self.overrides)}
        )

    @classmethod
    def from_json(cls, text: str) -> GateRequest:
        data = json.loads(text)
        return cls(AgentRef.from_dict(data["agent"]), Stage.parse(data["target"]), data["actor"], datetime.fromisoformat(data["at"]), data["overrides"])


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
        # One lock per piece: a read that hangs holds up only the policies waiting for that piece.
        self._locks = {key: threading.Lock() for key in ("version", "production", "approvals", "manifest_text", "agent")}

    def _once(self, key: str, load: Callable[[], Any]) -> Any:
        with self._locks[key]:
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


# -- evidence as the gate keeps it: JSON text, read once --------------------------------------------

EVIDENCE = ("version", "production", "approvals", "manifest_text")


def version_to_plain(version: AgentVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "stage": version.stage.value if version.stage else None,
        "status": version.status,
        "aliases": list(version.aliases),
        "source": version.source,
        "created_at": version.created_at,
        "tags": dict(version.tags),
        "run_id": version.run_id,
    }


def version_from_plain(data: Mapping[str, Any]) -> AgentVersion:
    """A new, read-only :class:`AgentVersion` (its tags a ``MappingProxyType``)."""
    return AgentVersion(
        name=data["name"],
        version=data["version"],
        stage=Stage.parse(data["stage"]) if data["stage"] else None,
        status=data["status"],
        aliases=tuple(data["aliases"]),
        source=data["source"],
        created_at=data["created_at"],
        tags=MappingProxyType(dict(data["tags"])),
        run_id=data["run_id"],
    )


def to_plain(what: str, value: Any) -> Any:
    if what in ("version", "production"):
        return None if value is None else version_to_plain(value)
    if what == "approvals":
        return [a.to_dict() for a in value]
    return value  # manifest_text: a string or None


def from_plain(what: str, data: Any) -> Any:
    if what in ("version", "production"):
        return None if data is None else version_from_plain(data)
    if what == "approvals":
        return tuple(Approval.from_dict(a) for a in data)
    return data


class EvidenceReads:
    """One gate run's evidence: each piece read from ``source`` at most once, kept as JSON text.

    ``text(what)`` is that text (what an isolated policy's process is sent);
    ``view()`` is an :class:`Evidence` for one policy that builds its own
    objects from it. A read that fails is not kept: the next policy tries again,
    as it would have. The loaded agent, a live object, is loaded once and shared.
    """

    __slots__ = ("__agent", "__locks", "__source", "__texts")

    def __init__(self, source: Evidence) -> None:
        self.__source = source
        self.__texts: dict[str, str] = {}
        self.__agent: list[Any] = []
        self.__locks = {what: threading.Lock() for what in (*EVIDENCE, "agent")}  # a hung read holds up only that piece

    def text(self, what: str) -> str:
        if what not in EVIDENCE:
            raise InvalidValue(f"no evidence called {what!r} (there is: {', '.join(EVIDENCE)})")
        with self.__locks[what]:
            if what not in self.__texts:
                self.__texts[what] = json.dumps(to_plain(what, getattr(self.__source, what)()))
            return self.__texts[what]

    def read(self, what: str) -> Any:
        """A fresh, read-only copy of one piece of evidence."""
        return from_plain(what, json.loads(self.text(what)))

    def agent(self) -> Any:
        with self.__locks["agent"]:
            if not self.__agent:
                self.__agent.append(self.__source.load_agent())
            return self.__agent[0]

    def view(self) -> PolicyEvidence:
        return PolicyEvidence(self.read, self.agent)


class PolicyEvidence:
    """The evidence one policy sees: each call builds new objects from the gate's reads."""

    __slots__ = ("_agent", "_read")

    def __init__(self, read: Callable[[str], Any], agent: Callable[[], Any]) -> None:
        self._read, self._agent = read, agent

    def version(self) -> AgentVersion:
        return self._read("version")  # type: ignore[no-any-return]

    def production(self) -> AgentVersion | None:
        return self._read("production")  # type: ignore[no-any-return]

    def approvals(self) -> Sequence[Approval]:
        return self._read("approvals")  # type: ignore[no-any-return]

    def manifest_text(self) -> str | None:
        return self._read("manifest_text")  # type: ignore[no-any-return]

    def load_agent(self) -> LoadedAgent:
        agent = self._agent()
        if dataclasses.is_dataclass(agent) and not isinstance(agent, type) and isinstance(getattr(agent, "version", None), AgentVersion):
            return dataclasses.replace(agent, version=self.version())  # type: ignore[return-value]
        return agent  # type: ignore[no-any-return]


def read_only_params(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """A policy's own copy of its parameters: read-only at the top, the TOML types (lists, tables) kept below."""
    try:
        copied = copy.deepcopy(dict(params))
    except Exception:  # an object in the parameters that cannot be copied (only tests pass such things)
        copied = dict(params)
    return MappingProxyType(copied)


class PolicyContext:
    """Everything about the candidate one policy may use. Nothing is read until asked for.

    The request, the parameters and every piece of evidence are this
    context's own read-only copies (see the module's docstring).
    """

    def __init__(self, policy: str, params: Mapping[str, Any], request: GateRequest, evidence: Evidence) -> None:
        self.policy = policy
        self.params = read_only_params(params)
        self.request = dataclasses.replace(request)  # a copy, with its own read-only overrides
        self._evidence = evidence if isinstance(evidence, PolicyEvidence) else EvidenceReads(evidence).view()

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
