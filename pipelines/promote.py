"""The ``promote-agent`` flow: evaluate the gate, record the decision, move the stage.

The flow adds orchestration to :mod:`agentgov.pipelines.promotion`: a task run
for the gate and one for the stage change in the Prefect UI, and a summary
artifact (each policy's verdict and why). A blocked or waiting promotion is a
completed flow run whose result says so; the command line turns it into exit
status 1. Parameters are plain JSON values, so it also runs as a deployment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from agentgov.pipelines.runtime import publish_table

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager
    from agentgov.pipelines.promotion import Prepared


@task(name="evaluate-gate", cache_policy=NO_CACHE)
def evaluate_gate(
    config: Config, plugins: PluginManager, audit: AuditLog, name: str, version: int, target: str, actor: str,
    dry_run: bool, accept: list[str], overrides: dict[str, str],
) -> Prepared:
    """Run every policy guarding ``target``; unless a dry run, record the decision (audit log, then MLflow)."""
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import prepare

    return prepare(
        config,
        AgentRef(name, version=version),
        Stage.parse(target),
        actor=actor,
        audit=audit,
        plugins=plugins,
        accept_inconclusive=accept,
        overrides=overrides,
        dry_run=dry_run,
    )


@task(name="move-stage", cache_policy=NO_CACHE)
def move_stage(prepared: Prepared, plugins: PluginManager, audit: AuditLog) -> dict[str, Any] | None:
    """Apply an allowed decision under the promotion lock; announce a blocked one. The plan, or ``None``."""
    from agentgov.pipelines.promotion import PromotionBlocked, finish

    try:
        return finish(prepared, audit=audit, plugins=plugins).to_dict()
    except PromotionBlocked:
        return None


def _run_name() -> str:
    from prefect.runtime import flow_run

    p = flow_run.parameters
    return f"{'explain' if p.get('dry_run') else 'promote'} {p.get('name')}/{p.get('version')} to {p.get('target')}"


@flow(name="promote-agent", flow_run_name=_run_name, log_prints=False)
def promote_agent(
    name: str,
    version: int,
    target: str,
    actor: str | None = None,
    dry_run: bool = False,
    accept_inconclusive: list[str] | None = None,
    overrides: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Promote ``name``/``version`` to ``target`` through the gate. Returns ``{"decision", "plan", "dry_run"}``."""
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins

    # Read from this process's environment, so a worker uses its own configuration.
    config = load_config()
    plugins = load_plugins(config)
    audit = Home.configured(config, plugins).audit_log
    prepared = evaluate_gate(
        config, plugins, audit, name, version, target, actor or config.user, dry_run,
        list(accept_inconclusive or []), dict(overrides or {}),
    )
    plan = None if dry_run else move_stage(prepared, plugins, audit)
    decision = prepared.decision
    publish_table(
        f"gate-{name}-{version}-{target}",
        f"{decision.agent} -> {target}: {'would be ' if dry_run else ''}{decision.outcome.value}",
        ("Policy", "Mode", "Verdict", "Why", "Evidence"),
        [(r.policy, r.mode.value, r.status.value, r.reason, ", ".join(r.evidence) or "-") for r in decision.results]
        or [("-", "-", "-", decision.summary, "-")],
        description=decision.summary,
        masker=audit.masker,
    )
    return {"decision": decision.to_dict(), "plan": plan, "dry_run": dry_run}


@task(name="roll-back", cache_policy=NO_CACHE)
def roll_back(config: Config, plugins: PluginManager, audit: AuditLog, name: str, actor: str) -> dict[str, Any]:
    """Record the (ungated) rollback decision and put previous-production back in production."""
    from agentgov.pipelines.promotion import rollback

    plan, decision = rollback(config, name, actor=actor, audit=audit, plugins=plugins)
    return {"plan": plan.to_dict(), "decision": decision.to_dict()}


@flow(name="rollback-agent", flow_run_name="rollback {name}", log_prints=False)
def rollback_agent(name: str, actor: str | None = None) -> dict[str, Any]:
    """Put ``previous-production`` of ``name`` back in production. Returns ``{"plan", "decision"}``."""
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins

    config = load_config()
    plugins = load_plugins(config)
    audit = Home.configured(config, plugins).audit_log
    outcome = roll_back(config, plugins, audit, name, actor or config.user)
    decision = outcome["decision"]
    publish_table(
        f"rollback-{name}",
        f"{name}: production is v{outcome['plan']['version']} again",
        ("What", "Value"),
        [("decision", decision["id"]), ("why", decision["summary"]), ("by", decision["actor"])],
        description=decision["summary"],
        masker=audit.masker,
    )
    return outcome
