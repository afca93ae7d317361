"""``agentgov audit show`` and ``agentgov audit verify``."""

from __future__ import annotations

import json

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say


@click.group()
def audit() -> None:
    """Read and verify the hash-chained audit log."""


@audit.command("show")
@click.option("--agent", "agent", metavar="NAME", help="Only records about this agent.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N records.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def audit_show(state: State, agent: str | None, limit: int | None, as_json: bool) -> None:
    """Print audit records, oldest first."""
    records = list(state.home.audit_log.records(subject_prefix=agent))
    if limit:
        records = records[-limit:]
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        say("No audit records." if agent is None else f"No audit records for {agent}.")
        return
    rows = [
        (r.seq, r.time[:19].replace("T", " "), r.actor, r.action, r.subject, _summary(r.payload))
        for r in records
    ]
    print_table(("Seq", "Time (UTC)", "Actor", "Action", "Subject", "Payload"), rows, title=str(state.home.audit_log.path))


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def audit_verify(state: State, as_json: bool) -> None:
    """Check every record and the hash chain; exit 1 at the first bad record."""
    from agentgov.core.errors import AuditTampered

    log = state.home.audit_log
    try:
        result = log.verify()
    except AuditTampered as exc:
        if as_json:
            print_json({"ok": False, "path": str(log.path), "line": exc.line, "error": exc.message})
            raise SystemExit(1) from None
        raise AuditTampered(f"audit log {log.path}: {exc.message}", line=exc.line) from None
    if as_json:
        print_json({"ok": True, "path": str(log.path), "records": result.records, "head": result.head})
        return
    noun = "record" if result.records == 1 else "records"
    say(f"Audit log OK: {result.records} {noun}, chain head {result.head[:16]}… ({log.path})")


def _summary(payload: dict, width: int = 60) -> str:
    text = json.dumps(payload, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


COMMANDS = (audit,)
