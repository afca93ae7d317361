"""``agentgov policies list|explain|report``, ``approve`` and ``approvals``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say, status

if TYPE_CHECKING:
    from agentgov.core.types import Decision

_MARK = {"pass": "pass", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "inconclusive": "INCONCLUSIVE"}


def print_decision(decision: Decision, *, dry_run: bool = False) -> None:
    """A table a person can act on: each policy, its verdict, why, and the evidence."""
    rows = [
        (
            r.policy,
            r.mode.value,
            _MARK[r.status.value] + (" (accepted by " + decision.accepted[r.policy] + ")" if r.policy in decision.accepted else ""),
            r.reason,
            "\n".join(r.evidence) or "-",
            r.plugin or "-",
        )
        for r in decision.results
    ]
    # The outcome in the words the audit log, `history` and `policies explain` use: allowed, blocked, needs-review.
    title = f"{decision.agent} -> {decision.target.value}: {decision.outcome.value}" + (" (dry run)" if dry_run else "")
    if rows:
        print_table(("Policy", "Mode", "Verdict", "Why", "Evidence", "Plugin"), rows, title=title)
    else:
        say(title)
    say(f"{decision.summary}" + ("" if dry_run else f" (decision {decision.id}, config {decision.config_hash[:12]})"))


@click.group()
def policies() -> None:
    """List the governance policies, explain a promotion, report on past verdicts."""


@policies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def policies_list(state: State, as_json: bool) -> None:
    """Every policy: its plugin, the stages it guards, its parameters, and where it is in force."""
    from agentgov.core.types import Stage, stages
    from agentgov.policies import POLICIES
    from agentgov.policies.protocol import enabled_by_default, parameters_of
    from agentgov.policies.settings import stage_policies

    available = state.plugins.collect(POLICIES)
    in_force: dict[str, list[str]] = {}
    for stage in Stage:
        for configured in stage_policies(state.config, stage, available):
            in_force.setdefault(configured.name, []).append(f"{stage.value} ({configured.mode.value})")
    listed = [
        {
            "name": name,
            "plugin": registered.plugin,
            "description": registered.item.description,
            "stages": sorted(s.value for s in stages(registered.item.stages)),
            "parameters": dict(parameters_of(registered.item)),
            "enabled_by_default": enabled_by_default(registered.item),
            "in_force": in_force.get(name, []),
        }
        for name, registered in sorted(available.items())
    ]
    missing = sorted(set(in_force) - set(available))
    if as_json:
        print_json({"policies": listed, "configured_but_missing": missing})
        return
    rows = [
        (p["name"], p["plugin"], ", ".join(p["stages"]), ", ".join(p["in_force"]) or "-", "\n".join(f"{k}: {v}" for k, v in p["parameters"].items()) or "-", p["description"])
        for p in listed
    ]
    print_table(("Policy", "Plugin", "Can guard", "In force", "Parameters", "What it checks"), rows, title="Policies")
    for name in missing:
        click.echo(f"agentgov: warning: policy {name!r} is configured but no loaded plugin provides it; promotions it guards are blocked", err=True)


@policies.command("explain")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--to", "target", required=True, metavar="STAGE", help="The stage to explain a promotion to.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def policies_explain(state: State, name: str, version: int, target: str, as_json: bool) -> None:
    """Evaluate every policy for moving NAME VERSION to STAGE, and say why; changes and records nothing.

    The last recorded decision for that stage is shown too, when there is one.
    """
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import prepare

    stage = Stage.parse(target)
    ref = AgentRef(name, version=version)
    with status(f"Evaluating the {stage.value} gate for {ref}", quiet=as_json):
        prepared = prepare(
            state.config, ref, stage, actor=state.config.user, audit=state.home.audit_log, plugins=state.plugins, dry_run=True
        )
    last = _last_decision(state, ref, stage)
    if as_json:
        print_json({"decision": prepared.decision.to_dict(), "last_recorded": last})
        return
    print_decision(prepared.decision, dry_run=True)
    if last:
        say(f"Last recorded decision for {stage.value}: {last['outcome']} at {last['at'][:19]} by {last['actor']} ({last['id']}): {last.get('summary', '')}")


def _last_decision(state: State, ref, stage) -> dict | None:
    found = None
    for record in state.home.audit_log.records(subject_prefix=ref.name):
        if record.action == "decision" and record.subject == str(ref) and record.payload.get("target") == stage.value:
            found = dict(record.payload)
    return found


@policies.command("report")
@click.option("--since", default="30d", show_default=True, help="How far back: 12h, 30d, 8w, or an ISO date.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def policies_report(state: State, since: str, as_json: bool) -> None:
    """Per policy, from the recorded decisions: its verdicts, and how often it blocked or would have."""
    from agentgov.policies.report import parse_since, report

    rows = report(state.home.audit_log, parse_since(since))
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    if not rows:
        say(f"No decisions recorded since {since}.")
        return
    print_table(
        ("Policy", "Modes", "Decisions", "Pass", "Warn", "Fail", "Error", "Inconclusive", "Blocked", "Would have blocked"),
        [(r.policy, ", ".join(r.modes), r.evaluated, r.passed, r.warned, r.failed, r.errors, r.inconclusive, r.blocked, r.would_block) for r in rows],
        title=f"Policy verdicts since {since}",
    )


@click.command()
@click.argument("name")
@click.argument("version", type=int)
@click.option("--stage", required=True, metavar="STAGE", help="The stage this approval is for.")
@click.option("--comment", default="", help="Why you approve; recorded.")
@click.option("--ttl", default=None, metavar="DURATION", help="Approval lapses after this long, like 7d or 12h.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def approve(state: State, name: str, version: int, stage: str, comment: str, ttl: str | None, as_json: bool) -> None:
    """Approve moving NAME VERSION to STAGE, as yourself (identity.user, $AGENTGOV_USER or your OS user)."""
    from agentgov.core.types import AgentRef, Stage
    from agentgov.policies.approvals import approve as record_approval
    from agentgov.policies.report import parse_duration

    approval = record_approval(
        state.config,
        AgentRef(name, version=version),
        Stage.parse(stage),
        approver=state.config.user,
        comment=comment,
        ttl=parse_duration(ttl) if ttl else None,
        audit=state.home.audit_log,
        plugins=state.plugins,
    )
    if as_json:
        print_json(approval.to_dict())
        return
    expires = f", expires {approval.expires_at:%Y-%m-%d %H:%M} UTC" if approval.expires_at else ""
    say(f"{approval.approver} approved {approval.agent} for {approval.stage.value}{expires}.")


@click.command()
@click.argument("name")
@click.argument("version", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def approvals(state: State, name: str, version: int, as_json: bool) -> None:
    """List the approvals recorded for NAME VERSION."""
    from agentgov.core.types import AgentRef
    from agentgov.policies.approvals import approvals_for

    found = list(approvals_for(state.home.audit_log, AgentRef(name, version=version)))
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    if not found:
        say(f"No approvals for {name}/{version}: `agentgov approve {name} {version} --stage STAGE`.")
        return
    rows = [
        (a.stage.value, a.approver, a.at.strftime("%Y-%m-%d %H:%M:%S"), a.expires_at.strftime("%Y-%m-%d %H:%M") if a.expires_at else "-", "expired" if a.expired() else "valid", a.comment)
        for a in found
    ]
    print_table(("Stage", "Approver", "When (UTC)", "Expires", "State", "Comment"), rows, title=f"Approvals of {name}/{version}")


COMMANDS = (policies, approve, approvals)
