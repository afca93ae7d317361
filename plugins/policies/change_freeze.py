"""Policy ``change-freeze``: no promotion to production inside a freeze window,
unless someone declares an emergency (``--override change-freeze=REASON``), which
the decision records."""

from __future__ import annotations

from datetime import UTC, datetime, time
from types import MappingProxyType
from typing import Any

from agentgov.core import InvalidValue, PolicyResult, Register, Stage, hookimpl
from agentgov.policies import PolicyContext

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _when(value: Any, field: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidValue(f"windows: {field} {value!r} is not an ISO date-time") from None
    if not isinstance(value, datetime):
        raise InvalidValue(f"windows: {field} must be a date-time, got {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clock(value: Any, field: str) -> time:
    try:
        return time.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        raise InvalidValue(f"windows: {field} {value!r} is not a time like 16:00") from None


def active_window(windows: list[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """The first window ``now`` falls in: dated (start/end) or weekly (days/from/to, UTC)."""
    for window in windows:
        if "start" in window or "end" in window:
            if _when(window.get("start"), "start") <= now < _when(window.get("end"), "end"):
                return window
        elif "days" in window:
            days = [str(d).lower()[:3] for d in window["days"]]
            unknown = [d for d in days if d not in DAYS]
            if unknown:
                raise InvalidValue(f"windows: unknown day {unknown[0]!r} (use mon..sun)")
            utc = now.astimezone(UTC)
            start, end = _clock(window.get("from", "00:00"), "from"), _clock(window.get("to", "23:59:59"), "to")
            if DAYS[utc.weekday()] in days and start <= utc.time().replace(tzinfo=None) <= end:
                return window
        else:
            raise InvalidValue(f"windows: each window needs start and end, or days (got {sorted(window)})")
    return None


class ChangeFreeze:
    name = "change-freeze"
    description = "No promotion to production inside a freeze window, except a recorded emergency override."
    stages = frozenset({Stage.PRODUCTION})
    parameters = MappingProxyType({"windows": "freeze windows: {start, end, reason} dated, or {days, from, to, reason} weekly in UTC"})

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        windows = context.param("windows", []) or []
        if not isinstance(windows, list) or not all(isinstance(w, dict) for w in windows):
            return context.result("error", "windows must be a list of tables")
        window = active_window(windows, context.now)
        if window is None:
            return context.passed(f"no freeze window is in force at {context.now:%Y-%m-%d %H:%M} UTC")
        why = window.get("reason") or "change freeze"
        if context.override:
            return context.warned(f"inside freeze window ({why}), overridden in an emergency by {context.actor}: {context.override}")
        return context.failed(
            f"inside freeze window ({why}); in an emergency promote with --override change-freeze='REASON', which is recorded"
        )


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(ChangeFreeze())
