"""``agentgov policies report``: what each policy said over a period, from the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import InvalidValue
from agentgov.core.types import Decision, utcnow

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``8w``."""
    match = _DURATION.match(text)
    if not match:
        raise InvalidValue(f"invalid duration {text!r}: expected a number and s, m, h, d or w, like 30d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A duration back from now (``30d``) or an ISO date or time (naive means UTC)."""
    if _DURATION.match(text):
        return (now or utcnow()) - parse_duration(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"invalid --since {text!r}: expected a duration like 30d or a date like 2026-11-01") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class PolicyTally:
    policy: str
    modes: list[str] = field(default_factory=list)
    evaluated: int = 0
    passed: int = 0
    warned: int = 0
    failed: int = 0
    errors: int = 0
    inconclusive: int = 0
    blocked: int = 0  # decisions this policy actually blocked (enforced fail or error)
    would_block: int = 0  # fail or error in any mode: what enforcing it would have blocked

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decisions(audit: AuditLog, since: datetime) -> Iterable[Decision]:
    for record in audit.records():
        if record.action == "decision" and datetime.fromisoformat(record.time) >= since:
            yield Decision.from_dict(record.payload)


def report(audit: AuditLog, since: datetime) -> list[PolicyTally]:
    tallies: dict[str, PolicyTally] = {}
    for decision in decisions(audit, since):
        for result in decision.results:
            tally = tallies.setdefault(result.policy, PolicyTally(result.policy))
            if result.mode.value not in tally.modes:
                tally.modes.append(result.mode.value)
            tally.evaluated += 1
            field_name = {"pass": "passed", "warn": "warned", "fail": "failed", "error": "errors", "inconclusive": "inconclusive"}[result.status.value]
            setattr(tally, field_name, getattr(tally, field_name) + 1)
            if result.status.blocks:
                tally.would_block += 1
                if result.counts:
                    tally.blocked += 1
    return sorted(tallies.values(), key=lambda t: t.policy)
