"""``agentgov register``, ``agents``, ``versions``, ``show``, ``promote``, ``rollback``, ``doctor``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from agentgov.cli.main import State
from agentgov.cli.output import plural, print_json, print_table, say, status


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else ""


@click.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
@click.option("--allow-dirty", is_flag=True, help="Register although a dataset differs from what DVC tracks (recorded).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def register(state: State, path: Path, allow_dirty: bool, as_json: bool) -> None:
    """Register the agent in PATH (its folder or agent.yaml) as a new candidate version."""
    from agentgov.pipelines.runtime import run_flow

    with status(f"Registering {path}", quiet=as_json):
        version = run_flow(
            "agentgov.pipelines.register_agent:register_agent",
            str(path),
            allow_dirty=allow_dirty,
            actor=state.config.user,
            config=state.config,
            console=state.debug,
        )
    if as_json:
        print_json(version.to_dict())
        return
    say(f"Registered {version.ref} as {version.stage.value if version.stage else '?'} ({version.lineage_summary()}).")
    _say_data_validation(version.tags.get("agentgov.data_validation"))


def _say_data_validation(raw: str | None) -> None:
    """One line per dataset whose contract failed at registration: shown, not blocking (the gate decides)."""
    import json

    if not raw:
        return
    summary = json.loads(raw)
    suites = summary.get("suites", {})
    if summary.get("passed"):
        say(f"Data validation passed ({plural(len(suites), 'dataset')}).")
        return
    for dataset, result in sorted(suites.items()):
        if not result.get("passed"):
            why = result.get("error") or f"{result.get('failed_expectations')} of {plural(int(result.get('evaluated') or 0), 'expectation')} failed"
            say(f"Data validation FAILED for {dataset}: {why}.")
    say(f"Report: {summary.get('report')} (`agentgov data validate` shows the failing expectations)")


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
@click.option("--bom", "bom", is_flag=True, help="Print the version's bill of materials instead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(state: State, ref: str, version: int | None, bom: bool, as_json: bool) -> None:
    """Show one version: NAME@STAGE, NAME/VERSION or NAME VERSION."""
    from agentgov.core.types import AgentRef
    from agentgov.registry import doctor
    from agentgov.registry.backend import connect
    from agentgov.registry.store import get

    agent_ref = AgentRef(ref, version=version) if version is not None else AgentRef.parse(ref)
    client = connect(state.config)
    found = get(client, agent_ref)
    if bom:
        _show_bom(client, found, as_json)
        return
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


def _show_bom(client, found, as_json: bool) -> None:  # an MlflowClient and an AgentVersion
    from agentgov.registry import bom as bills

    bill = bills.read(client, found)
    if as_json:
        print_json({"agent": found.name, "version": found.version, "bom": bill.data, "sha256": bill.sha256})
        return
    rows = [(i.section, i.name, "-" if i.value is None else _short(i.value, 64)) for i in bill.items()]
    print_table(("Section", "Item", "SHA-256 / value"), rows, title=f"Bill of materials of {found.ref} (sha256 {bill.sha256[:16]})")


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
@click.option("--dry-run", is_flag=True, help="Evaluate the gate and print its decision; change and record nothing.")
@click.option(
    "--accept-inconclusive", "accept", multiple=True, metavar="POLICY",
    help="Accept POLICY's inconclusive verdict (not as the registrant); recorded with your identity. Repeatable.",
)
@click.option(
    "--override", "overrides", multiple=True, metavar="POLICY=REASON",
    help="Emergency override for policies that allow one (change-freeze); recorded with the reason. Repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def promote(
    state: State, name: str, version: int, target: str, dry_run: bool, accept: tuple[str, ...], overrides: tuple[str, ...], as_json: bool
) -> None:
    """Move version VERSION of agent NAME to a later stage, through the gate.

    Exit status: 0 moved (or, with --dry-run, would be allowed), 1 blocked or
    waiting for review, 2 bad input.
    """
    from agentgov.cli.policy_commands import print_decision
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import PromotionBlocked

    stage = Stage.parse(target)
    parsed = _overrides(overrides)
    ref = AgentRef(name, version=version)
    with status(f"{'Evaluating' if dry_run else 'Promoting'} {ref} to {stage.value}", quiet=as_json):
        plan, decision = _run_promotion(state, ref, stage, dry_run=dry_run, accept=accept, overrides=parsed)
    if as_json:
        print_json({"plan": plan, "decision": decision.to_dict(), "dry_run": dry_run})
    else:
        print_decision(decision, dry_run=dry_run)
        if plan is not None:
            say(f"{ref}: {plan['from'] or '?'} -> {plan['to']} (decision {decision.id})")
    if not decision.allowed:
        if not as_json and not dry_run:
            click.echo(f"agentgov: {PromotionBlocked(decision)}", err=True)
        raise SystemExit(1)


def _run_promotion(state: State, ref: Any, stage: Any, *, dry_run: bool, accept: tuple[str, ...], overrides: dict[str, str]) -> tuple[Any, Any]:
    """(plan or None, decision): the promotion as a ``promote-agent`` Prefect flow run."""
    from agentgov.core.types import Decision
    from agentgov.pipelines.runtime import run_flow

    outcome = run_flow(
        "agentgov.pipelines.promote:promote_agent",  # imported while an embedded Prefect server boots
        config=state.config,
        console=state.debug,
        name=ref.name,
        version=ref.version,
        target=stage.value,
        actor=state.config.user,
        dry_run=dry_run,
        accept_inconclusive=list(accept),
        # Flow parameters are stored in Prefect's database: the reasons go there masked, as into the audit log.
        overrides=state.home.audit_log.masker.value(overrides),
    )
    return outcome["plan"], Decision.from_dict(outcome["decision"])


def _overrides(values: tuple[str, ...]) -> dict[str, str]:
    from agentgov.core.errors import InvalidValue

    parsed = {}
    for value in values:
        policy, sep, reason = value.partition("=")
        if not sep or not policy.strip() or not reason.strip():
            raise InvalidValue(f"--override {value!r}: expected POLICY=REASON, like change-freeze='sev1 fix, INC-123'")
        parsed[policy.strip()] = reason.strip()
    return parsed


@click.command()
@click.argument("name")
@click.option(
    "--emergency", is_flag=True,
    help="At once, from any rollout state: production back at the version before the rollout, no canary or shadow traffic; no analysis, always recorded.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def rollback(state: State, name: str, emergency: bool, as_json: bool) -> None:
    """Put the previous production version of NAME back in production, in one step."""
    from agentgov.pipelines.runtime import run_flow

    if emergency:
        _emergency_rollback(state, name, as_json)
        return

    with status(f"Rolling back {name}", quiet=as_json):
        outcome = run_flow(
            "agentgov.pipelines.promote:rollback_agent", config=state.config, console=state.debug, name=name, actor=state.config.user
        )
    plan, decision = outcome["plan"], outcome["decision"]
    if as_json:
        print_json({"plan": plan, "decision": decision})
        return
    archived = [v for v, s in plan["stage_updates"].items() if s == "archived"]
    say(f"{name}: production is v{plan['version']} again" + (f"; v{archived[0]} archived" if archived else "") + f" (decision {decision['id']})")


def _emergency_rollback(state: State, name: str, as_json: bool) -> None:
    """No flow and no gate: straight to the registry and the routing, recorded in the audit log."""
    from agentgov.pipelines.rollout.actions import emergency_rollback
    from agentgov.pipelines.rollout.controller import Context

    outcome = emergency_rollback(Context(state.config, state.plugins, state.home.audit_log), name, actor=state.config.user)
    if as_json:
        print_json(outcome)
        return
    before, after = outcome["aliases_before"], outcome["aliases_after"]
    rollout = outcome["rollout"]
    ended = f"; rollout {rollout['id']} of v{rollout['candidate']} {rollout['status'].replace('_', ' ')}" if rollout else ""
    say(f"{name}: production is v{after.get('production')} (was v{before.get('production')}); no canary or shadow traffic{ended}.")


@click.command()
@click.option("--repair", is_flag=True, help="First finish stage moves that a crash interrupted (recorded in the audit log).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def doctor(state: State, repair: bool, as_json: bool) -> None:
    """Check that MLflow's aliases and agentgov's stage tags agree; exit 1 if not."""
    from agentgov.registry import doctor as checks
    from agentgov.registry.backend import connect
    from agentgov.registry.stages import finish_interrupted
    from agentgov.registry.store import list_agents

    client = connect(state.config)
    names = [agent["name"] for agent in list_agents(client)]
    repaired = [done for name in names if repair and (done := finish_interrupted(client, name, audit=state.home.audit_log))]
    findings = [f for name in names for f in checks.check(client, name)]
    if as_json:
        print_json([{"agent": f.agent, "version": f.version, "problem": f.problem} for f in findings])
    else:
        for done in repaired:
            say(f"repaired: {done}")
        for finding in findings:
            say(f"problem: {finding}")
        if not findings:
            say("No problems: every alias agrees with its version's stage tag.")
    if findings:
        raise SystemExit(1)


COMMANDS = (register, agents, versions, show, promote, rollback, doctor)
