"""What the demo tells as it goes (a :class:`Reporter` the command line implements) and what it hands back."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agentgov.core.types import Decision


@dataclass(frozen=True)
class StepResult:
    """One step: its name, what happened (a line or two), how long it took, and what it produced."""

    name: str
    title: str
    said: tuple[str, ...]
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "said": list(self.said), "seconds": round(self.seconds, 2), **self.details}


@dataclass(frozen=True)
class Look:
    """Where to look at one result: what it is, and the command, path or URL."""

    what: str
    where: str

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "where": self.where}


@dataclass(frozen=True)
class DemoSummary:
    """The whole run: its folder, steps, the versions and their stages at the end, every gate decision, where to look."""

    directory: str
    agent: str
    reset: bool
    steps: tuple[StepResult, ...]
    versions: tuple[dict[str, Any], ...]
    decisions: tuple[dict[str, Any], ...]
    look: tuple[Look, ...]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "agent": self.agent,
            "reset": self.reset,
            "seconds": round(self.seconds, 2),
            "steps": [s.to_dict() for s in self.steps],
            "versions": list(self.versions),
            "decisions": list(self.decisions),
            "look": [item.to_dict() for item in self.look],
        }


class Reporter(Protocol):
    """How the demo narrates: a live status per step, its lines, and a decision shown in full."""

    def running(self, title: str) -> AbstractContextManager[object]:
        """Shown while a step runs (a spinner on a terminal)."""

    def finished(self, step: StepResult) -> None:
        """A step is done: its lines and wall time."""

    def decision(self, decision: Decision) -> None:
        """A gate's decision, shown as ``agentgov policies explain`` shows one."""


class Quiet:
    """A reporter that says nothing (``--json``, tests)."""

    def running(self, title: str) -> AbstractContextManager[object]:
        from contextlib import nullcontext

        return nullcontext()

    def finished(self, step: StepResult) -> None:
        return None

    def decision(self, decision: Decision) -> None:
        return None
