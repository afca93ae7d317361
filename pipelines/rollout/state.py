"""A rollout's state, kept in the shared registry so any machine can see, resume or abort it.

The state is JSON in the ``agentgov.rollout.state`` tag of the agent's
registered model, with a ``generation`` that every write raises by one. A
write is compare-and-set under the agent's registry lock
(:func:`agentgov.registry.lock.promotion_lock`): it succeeds only if the
generation is still the one the writer read, so a controller and a person
running ``rollout pause`` on another machine never overwrite each other; the
loser re-reads and decides again.

Statuses: ``running`` (at ``step``, ``phase`` ``entering`` while the step's
stage and routing are being set, then ``observing``), ``paused`` (``reason``
``inconclusive`` or ``manual``), and the terminal ``succeeded``,
``rolled_back`` and ``aborted``. A terminal state is written *before* its
clean-up (routing to zero, the candidate's stage aliases cleared), with
``phase`` ``cleanup``; the clean-up is idempotent and ``phase`` becomes
``done`` after it, so a crash in between is finished by whoever looks next.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import AgentgovError
from agentgov.core.types import utcnow
from agentgov.registry.errors import Conflict
from agentgov.registry.lock import promotion_lock
from agentgov.registry.store import mlflow_errors

if TYPE_CHECKING:
    from mlflow import MlflowClient

TAG_STATE = "agentgov.rollout.state"
RUNNING, PAUSED, SUCCEEDED, ROLLED_BACK, ABORTED = "running", "paused", "succeeded", "rolled_back", "aborted"
STATUSES = (RUNNING, PAUSED, SUCCEEDED, ROLLED_BACK, ABORTED)
TERMINAL = (SUCCEEDED, ROLLED_BACK, ABORTED)
ENTERING, OBSERVING, CLEANUP, DONE = "entering", "observing", "cleanup", "done"
INCONCLUSIVE, MANUAL = "inconclusive", "manual"


class RolloutError(AgentgovError):
    """A rollout command that cannot be done as asked (no rollout, one already running, a finished one)."""


class StaleState(Conflict):
    """Someone else wrote the rollout's state since it was read: read it again and decide again."""


@dataclass(frozen=True)
class RolloutState:
    """Where one rollout of ``agent`` stands. ``plan`` is the plan as JSON (``RolloutPlan.to_dict()``)."""

    id: str
    agent: str
    candidate: int
    baseline: int | None  # production when the rollout started
    plan: dict[str, Any]
    status: str = RUNNING
    step: int = 0
    phase: str = ENTERING
    step_started_at: str = ""
    reason: str | None = None  # why paused or ended
    detail: str = ""  # for people: what happened last, or what the controller waits for
    started_by: str = ""
    started_at: str = ""
    updated_by: str = ""
    updated_at: str = ""
    accept: dict[str, Any] = field(default_factory=dict)  # {"by": person, "policies": [...]} once, from resume --accept
    last_analysis: dict[str, Any] = field(default_factory=dict)
    resumed_at: str = ""  # a resume restarts the max_minutes clock of the step (the traffic counted stays)
    generation: int = 0

    @property
    def active(self) -> bool:
        return self.status in (RUNNING, PAUSED)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.plan.get("steps", []))

    @property
    def current_step(self) -> dict[str, Any] | None:
        steps = self.steps
        return steps[self.step] if 0 <= self.step < len(steps) else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutState:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def describe_step(self) -> str:
        step = self.current_step
        if step is None:
            return "-"
        where = f"step {self.step + 1} of {len(self.steps)}: {step['kind']}"
        if step["kind"] == "canary":
            where += f" {step['percent']:g}%"
        elif step["kind"] == "shadow":
            where += f" (mirror {step.get('mirror', 1.0):g})"
        return where


def new_state(agent: str, candidate: int, baseline: int | None, plan: dict[str, Any], actor: str) -> RolloutState:
    now = utcnow().isoformat()
    return RolloutState(
        id=uuid.uuid4().hex[:12],
        agent=agent,
        candidate=candidate,
        baseline=baseline,
        plan=plan,
        step_started_at=now,
        started_by=actor,
        started_at=now,
        updated_by=actor,
        updated_at=now,
        detail="starting",
    )


def read_state(client: MlflowClient, agent: str) -> RolloutState | None:
    """The agent's current (or last) rollout, or ``None`` if it never had one."""
    with mlflow_errors(f"agent {agent}"):
        return state_of(client.get_registered_model(agent))


def state_of(model: Any) -> RolloutState | None:
    """The rollout recorded on a registered model already read (its tags), or ``None`` if it never had one."""
    raw = (model.tags or {}).get(TAG_STATE)
    return RolloutState.from_dict(json.loads(raw)) if raw else None


def write_state(client: MlflowClient, state: RolloutState, *, expected: int | None, actor: str) -> RolloutState:
    """Write ``state`` if the stored generation is still ``expected`` (``None``: no active rollout may exist).

    Returns the state as written (generation raised by one); :class:`StaleState` if someone wrote first.
    """
    with promotion_lock(client, state.agent):
        current = read_state(client, state.agent)
        if expected is None:
            if current is not None and current.active:
                raise RolloutError(
                    f"{state.agent} already has a rollout {current.status} ({current.id}: v{current.candidate}, "
                    f"{current.describe_step()})",
                    hint=f"see `agentgov rollout status {state.agent}`; finish it with resume or abort first",
                )
            generation = current.generation if current is not None else 0
        else:
            generation = current.generation if current is not None else -1
            if generation != expected:
                raise StaleState(
                    f"the rollout of {state.agent} changed since it was read (generation {expected} -> {generation})"
                )
        written = replace(state, generation=generation + 1, updated_by=actor, updated_at=utcnow().isoformat())
        with mlflow_errors(f"writing the rollout state of {state.agent}"):
            client.set_registered_model_tag(state.agent, TAG_STATE, json.dumps(written.to_dict(), default=str))
    return written


__all__ = [
    "ABORTED",
    "CLEANUP",
    "DONE",
    "ENTERING",
    "INCONCLUSIVE",
    "MANUAL",
    "OBSERVING",
    "PAUSED",
    "ROLLED_BACK",
    "RUNNING",
    "SUCCEEDED",
    "TAG_STATE",
    "RolloutError",
    "RolloutState",
    "StaleState",
    "new_state",
    "read_state",
    "write_state",
]
