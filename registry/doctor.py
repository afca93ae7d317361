"""Finding where MLflow disagrees with itself (aliases versus stage tags), and finishing interrupted stage moves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentgov.core.types import Stage
from agentgov.registry.model import PREVIOUS_PRODUCTION, STAGE_ALIASES
from agentgov.registry.stages import pending_move
from agentgov.registry.store import aliases, versions

if TYPE_CHECKING:
    from mlflow import MlflowClient

ALIAS_STAGE = {alias: stage for stage, alias in STAGE_ALIASES.items()} | {PREVIOUS_PRODUCTION: Stage.ARCHIVED}


@dataclass(frozen=True)
class Finding:
    agent: str
    version: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.agent}/{self.version}" if self.version is not None else self.agent
        return f"{where}: {self.problem}"


def check(client: MlflowClient, name: str) -> list[Finding]:
    found: list[Finding] = []
    intent = pending_move(client, name)
    if intent is not None:
        plan = intent.get("plan", {})
        found.append(Finding(
            name, plan.get("version"),
            f"a move to {plan.get('to')} (decision {intent.get('decision_id')}) was interrupted; "
            "`agentgov doctor --repair` or the next promotion of this agent finishes it",
        ))
    by_alias = aliases(client, name)
    all_versions = versions(client, name)
    by_number = {v.version: v for v in all_versions}
    for alias, number in sorted(by_alias.items()):
        version = by_number.get(number)
        expected = ALIAS_STAGE[alias]
        if version is None:
            found.append(Finding(name, number, f"alias {alias} points to a version that does not exist"))
        elif version.stage is not expected:
            tag = version.stage.value if version.stage else "no stage tag"
            found.append(Finding(name, number, f"alias {alias} points here but its stage tag says {tag} (expected {expected.value})"))
    for version in all_versions:
        if version.stage in STAGE_ALIASES and by_alias.get(STAGE_ALIASES[version.stage]) != version.version:
            holder = by_alias.get(STAGE_ALIASES[version.stage])
            held = f"v{holder}" if holder else "no version"
            found.append(Finding(name, version.version, f"stage tag says {version.stage.value} but alias {STAGE_ALIASES[version.stage]} points to {held}"))
        if not version.usable:
            found.append(Finding(name, version.version, f"status {version.status}: not usable"))
    return found
