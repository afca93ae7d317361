"""``agentgov history`` (which version held each stage, when) and ``agentgov diff`` (what changed between versions)."""

from __future__ import annotations

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say, warn


def _when(text: str | None) -> str:
    return text[:19].replace("T", " ") if text else ""


@click.command()
@click.argument("name")
@click.option("--at", "at", metavar="TIMESTAMP", help="Which version held each stage at this moment: ISO 8601 (UTC unless a zone is given) or a time ago like 2h.")
@click.option("--stage", "stage", metavar="STAGE", help="Only this stage: shadow, canary or production.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def history(state: State, name: str, at: str | None, stage: str | None, as_json: bool) -> None:
    """Every stage change of agent NAME (who, when, why), or who held each stage --at a moment.

    Answers from the audit log, and warns where MLflow's aliases disagree with it
    (checked when the command runs in the control plane, where MLflow is loaded
    already; with --no-server MLflow is consulted only for an agent the audit
    log does not know, and `agentgov doctor` checks the registry).
    """
    from agentgov.core.types import AgentRef
    from agentgov.registry import history as records

    AgentRef(name)  # a clear error for a malformed name
    moment = records.parse_moment(at) if at is not None else None
    alias = records.stage_alias(stage) if stage is not None else None
    found = records.load(state.home.audit_log, name)
    current = _current_aliases(state, name, known=bool(found.changes))
    mismatches = found.mismatches(current) if current is not None else []
    if alias is not None:
        mismatches = [m for m in mismatches if m.alias == alias]

    if moment is not None:
        holders = found.held_at(moment, [alias] if alias else None)
        if as_json:
            print_json({"agent": name, "at": moment.isoformat(), "stages": [h.to_dict() for h in holders], "mismatches": [m.to_dict() for m in mismatches]})
        else:
            rows = [
                (h.stage, f"v{h.version}" if h.version is not None else "-", _when(h.since.at.isoformat()) if h.since else "",
                 h.since.actor if h.since else "", h.since.decision_id or "" if h.since else "")
                for h in holders
            ]
            print_table(("Stage", "Version", "Since (UTC)", "By", "Decision"), rows, title=f"{name} at {moment.isoformat()}")
    else:
        changes = [c for c in found.changes if alias is None or c.moved(alias)]
        if as_json:
            print_json({"agent": name, "changes": [c.to_dict() for c in changes], "mismatches": [m.to_dict() for m in mismatches]})
        elif not changes:
            say(f"No stage changes of {name} in the audit log.")
        else:
            rows = [
                (c.seq, _when(c.at.isoformat()), c.actor, f"v{c.version}", f"{c.source or '?'} -> {c.target}" + (" (rollback)" if c.rollback else ""),
                 c.decision_id or "", c.reason)
                for c in changes
            ]
            print_table(("Seq", "Time (UTC)", "Who", "Version", "Change", "Decision", "Why"), rows, title=f"Stage history of {name}")
    if not as_json:
        for mismatch in mismatches:
            warn(f"{name}: {mismatch}")


def _current_aliases(state: State, name: str, *, known: bool) -> dict[str, int] | None:
    """MLflow's aliases now; None (with a warning) where MLflow cannot say and the audit log knows the agent."""
    import sys

    if known and "mlflow" not in sys.modules:
        return None  # cold: the audit log answers; importing MLflow for the cross-check would cost seconds
    from agentgov.registry.backend import connect
    from agentgov.registry.errors import NotFound, RegistryUnavailable
    from agentgov.registry.store import aliases

    try:
        return aliases(connect(state.config), name)
    except NotFound:
        if not known:
            raise NotFound(f"agent {name} is neither in the registry nor in the audit log") from None
        warn(f"{name} is no longer in the MLflow registry; showing the audit log's record")
    except RegistryUnavailable as exc:
        if not known:
            raise
        warn(f"cannot compare with MLflow's aliases: {exc}")
    return None


@click.command()
@click.argument("name")
@click.argument("old", metavar="V1", type=int)
@click.argument("new", metavar="V2", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def diff(state: State, name: str, old: int, new: int, as_json: bool) -> None:
    """What changed from version V1 to V2 of agent NAME: every item of their bills of materials, and manifest fields."""
    from agentgov.core.types import AgentRef
    from agentgov.registry import bom
    from agentgov.registry.backend import connect
    from agentgov.registry.store import get

    client = connect(state.config)
    before, after = (get(client, AgentRef(name, version=v)) for v in (old, new))
    changes = bom.diff(bom.read(client, before), bom.read(client, after), before.manifest, after.manifest)
    if as_json:
        print_json({"agent": name, "old": old, "new": new, "changes": [c.to_dict() for c in changes]})
        return
    if not changes:
        say(f"{name}: v{old} and v{new} are made of the same things.")
        return
    rows = [(c.change, c.section, c.name, _value(c.old), _value(c.new)) for c in changes]
    print_table(("Change", "Section", "Item", f"v{old}", f"v{new}"), rows, title=f"{name}: v{old} -> v{new}")


def _value(value: str | None) -> str:
    if value is None:
        return ""
    return value[:16] if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else value


COMMANDS = (history, diff)
