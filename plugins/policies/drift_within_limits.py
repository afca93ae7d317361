"""Policy ``drift-within-limits``: the agent's live inputs have not drifted past the limits."""

from __future__ import annotations

from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl, number
from agentgov.policies import PolicyContext


class DriftWithinLimits:
    name = "drift-within-limits"
    description = "Share of drifted columns, and each named key column, within limits; too little data fails production."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({
        "max_drift_share": "largest share of drifted columns allowed (default 0.3)",
        "columns": "key columns that must not drift at all (default none)",
    })

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        drift = context.drift
        if drift is None:
            return context.no_evidence("no drift evaluation for this version", f"run `agentgov drift {context.agent.name} --version {context.agent.version}`")
        evidence = [drift["report"]] if drift.get("report") else []
        status = drift.get("status")
        if status == "error":
            return context.result("error", f"the drift evaluation failed: {drift.get('message') or 'no message'}", evidence=evidence)
        if status == "insufficient-data":
            why = f"insufficient data for a drift verdict ({drift.get('current_rows', '?')} current rows): {drift.get('message', '')}".rstrip(": ")
            if context.target is Stage.PRODUCTION:
                return context.failed(why, evidence=evidence)
            return context.inconclusive(why, evidence=evidence)
        share = number(drift.get("share_drifted"))
        if share is None or status not in ("ok", "drift"):
            return context.result("error", f"drift result has no share_drifted or an unknown status {status!r}", evidence=evidence)
        limit = float(context.param("max_drift_share", 0.3))
        columns = {c["column"]: c for c in drift.get("columns", [])}
        keys = list(context.param("columns", []) or [])
        missing = [c for c in keys if c not in columns]
        drifted_keys = [c for c in keys if c in columns and columns[c].get("drifted")]
        problems = []
        if share > limit:
            drifted = ", ".join(name for name, c in columns.items() if c.get("drifted"))
            problems.append(f"{share:.0%} of columns drifted (limit {limit:.0%}): {drifted}")
        if drifted_keys:
            problems.append("key column(s) drifted: " + ", ".join(f"{c} ({columns[c].get('method')} {columns[c].get('score'):.3g})" for c in drifted_keys))
        if missing:
            problems.append(f"key column(s) not in the drift result: {', '.join(missing)}")
        if problems:
            return context.failed("; ".join(problems), evidence=evidence, share_drifted=share)
        return context.passed(f"{share:.0%} of {len(columns)} columns drifted (limit {limit:.0%})", evidence=evidence, share_drifted=share)


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(DriftWithinLimits())
