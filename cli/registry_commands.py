"""``agentgov register``, ``agents``, ``versions``, ``show``, ``promote``, ``rollback``, ``doctor``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say, status


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else ""


@click.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def register(state: State, path: Path, as_json: bool) -> None:
    """Register the agent in PATH (its folder or agent.yaml) as a new candidate version."""
    from agentgov.registry.register import register as register_agent

    with status(f"Registering {path}", quiet=as_json):
        version = register_agent(path, config=state.config, audit=state.home.audit_log, plugins=state.plugins, actor=state.config.user)
    if as_json:
        print_json(version.to_dict())
        return
    say(f"Registered {version.ref} as {version.stage.value if version.stage else '?'} ({version.lineage_summary()}).")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def agents(state: State, as_json: bool) -> None:
    """List registered agents and which version holds each stage."""
    from agentgov.registry.backend import connect
    from agentgov.registry.store import list_agents

    found = list_agents(connect(state.config))
    if as_json:
        print_json(found)
        return
    if not found:
        say("No agents registered yet: `agentgov register PATH`.")
        return
    rows = [
        (a["name"], a["latest_version"], *(f"v{a['aliases'][s]}" if s in a["aliases"] else "" for s in ("shadow", "canary", "production")), a["description"])
        for a in found
    ]
    print_table(("Agent", "Latest", "Shadow", "Canary", "Production", "Description"), rows, title="Agents")


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def versions(state: State, name: str, as_json: bool) -> None:
    """List the versions of agent NAME, newest first."""
    from agentgov.registry.backend import connect
    from agentgov.registry.store import versions as list_versions

    found = list_versions(connect(state.config), name)
    if as_json:
        print_json([v.to_dict() for v in found])
        return
    rows = [
        (
            v.version,
            v.stage.value if v.stage else "",
            v.status,
            ", ".join(v.aliases),
            v.lineage.get("registered_by", ""),
            _when(v.created_at),
            v.lineage_summary(),
        )
        for v in found
    ]
    print_table(("Version", "Stage", "Status", "Aliases", "Registered by", "When (UTC)", "Lineage"), rows, title=f"Versions of {name}")


@click.command()
@click.argument("ref")
@click.argument("version", required=False, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(state: State, ref: str, version: int | None, as_json: bool) -> None:
    """Show one version: NAME@STAGE, NAME/VERSION or NAME VERSION."""
    from agentgov.core.types import AgentRef
    from agentgov.registry import doctor
    from agentgov.registry.backend import connect
    from agentgov.registry.store import get

    agent_ref = AgentRef(ref, version=version) if version is not None else AgentRef.parse(ref)
    client = connect(state.config)
    found = get(client, agent_ref)
    history = [
        r.to_dict()
        for r in state.home.audit_log.records(subject_prefix=found.name)
        if r.subject == str(found.ref) and r.action in ("stage.change", "decision", "event.registered", "stage.conflict")
    ]
    findings = [str(f) for f in doctor.check(client, found.name) if f.version == found.version]
    if as_json:
        print_json({**found.to_dict(), "manifest": found.manifest, "history": history, "problems": findings})
        return
    say(f"{found.ref}  stage: {found.stage.value if found.stage else '?'}  status: {found.status}  aliases: {', '.join(found.aliases) or '-'}")
    say(f"source: {found.source}")
    print_table(("Lineage", "Value"), sorted(found.lineage.items()), title="Lineage")
    manifest = found.manifest
    if manifest:
        print_table(("Manifest", "Value"), [(k, _short(v)) for k, v in manifest.items()], title="Manifest")
    rows = [(r["seq"], r["time"][:19].replace("T", " "), r["actor"], r["action"], _short(_history_detail(r))) for r in history]
    print_table(("Seq", "Time (UTC)", "Actor", "Action", "Detail"), rows, title="Stage history and decisions")
    for finding in findings:
        click.echo(f"agentgov: warning: {finding} (see `agentgov doctor`)", err=True)


def _history_detail(record: dict) -> str:
    payload = record["payload"]
    if record["action"] == "stage.change":
        return f"{payload.get('from')} -> {payload.get('to')} (decision {payload.get('decision_id')})"
    if record["action"] == "decision":
        reasons = "; ".join(f"{r['policy']}: {r['status']}" for r in payload.get("results", []))
        return f"{payload.get('outcome')} -> {payload.get('target')} [{reasons}] id {payload.get('id')}"
    if record["action"] == "event.registered":
        return f"registered from {payload.get('payload', {}).get('source', '?')}"
    return str(payload)[:80]


def _short(value: object, width: int = 90) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command()
@click.argument("name")
@click.argument("version", type=int)
@click.option("--to", "target", required=True, metavar="STAGE", help="shadow, canary, production or archived.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def promote(state: State, name: str, version: int, target: str, as_json: bool) -> None:
    """Move version VERSION of agent NAME to a later stage, through the gate."""
    from agentgov.core.types import AgentRef, Stage
    from agentgov.registry.promotion import promote as promote_version

    stage = Stage.parse(target)
    with status(f"Promoting {name}/{version} to {stage.value}", quiet=as_json):
        plan, decision = promote_version(
            state.config, AgentRef(name, version=version), stage, actor=state.config.user, audit=state.home.audit_log, plugins=state.plugins
        )
    if as_json:
        print_json({"plan": plan.to_dict(), "decision": decision.to_dict()})
        return
    say(f"{name}/{version}: {plan.source.value if plan.source else '?'} -> {plan.target.value} (decision {decision.id})")
    for result in decision.results:
        say(f"  {result.policy}: {result.status.value}: {result.reason}")


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def rollback(state: State, name: str, as_json: bool) -> None:
    """Put the previous production version of NAME back in production, in one step."""
    from agentgov.registry.promotion import rollback as rollback_agent

    with status(f"Rolling back {name}", quiet=as_json):
        plan, decision = rollback_agent(state.config, name, actor=state.config.user, audit=state.home.audit_log, plugins=state.plugins)
    if as_json:
        print_json({"plan": plan.to_dict(), "decision": decision.to_dict()})
        return
    archived = [v for v, s in plan.stage_updates.items() if s.value == "archived"]
    say(f"{name}: production is v{plan.version} again" + (f"; v{archived[0]} archived" if archived else "") + f" (decision {decision.id})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def doctor(state: State, as_json: bool) -> None:
    """Check that MLflow's aliases and agentgov's stage tags agree; exit 1 if not."""
    from agentgov.registry import doctor as checks
    from agentgov.registry.backend import connect
    from agentgov.registry.store import list_agents

    client = connect(state.config)
    findings = [f for agent in list_agents(client) for f in checks.check(client, agent["name"])]
    if as_json:
        print_json([{"agent": f.agent, "version": f.version, "problem": f.problem} for f in findings])
    elif findings:
        for finding in findings:
            say(f"problem: {finding}")
    else:
        say("No problems: every alias agrees with its version's stage tag.")
    if findings:
        raise SystemExit(1)


COMMANDS = (register, agents, versions, show, promote, rollback, doctor)
