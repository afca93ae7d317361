"""A rollout step's analysis, from the inference log: each metric of the plan, candidate against production.

The arms are the calls of this rollout (``rollout_id``) since the step began:
production's answers (stage ``production``, the baseline version) against the
candidate's (stage ``shadow`` for a shadow step, ``canary`` for a canary
step). Each metric's verdict comes from :mod:`agentgov.evals.analysis`
(always valid under repeated looks, "no data" never passes); on a shadow step
with ``shadow_agreement``, the pairs (same ``pairing_id``) are scored by
:mod:`agentgov.evals.agreement` and the agreement's Wilson 95% interval is
judged against the threshold: its lower bound above it (and
``min_requests`` pairs) passes, its upper bound below it fails.

The step's verdict: any ``fail`` fails; every check ``pass`` with the step's
``min_requests`` and ``min_minutes`` behind it passes; anything else is
``inconclusive``, and the controller waits (until ``max_minutes``, then pauses).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentgov.core.types import utcnow

if TYPE_CHECKING:
    import pandas as pd

    from agentgov.pipelines.rollout.state import RolloutState

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class StepAnalysis:
    """Where a step stands: its verdict, each check, the traffic counted, and what it waits for."""

    step: int
    kind: str
    verdict: str
    checks: tuple[dict[str, Any], ...]
    counts: dict[str, int]
    minutes: float
    waiting_for: str
    agreement: dict[str, Any] | None = None
    at: str = field(default_factory=lambda: utcnow().isoformat())

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "verdict": self.verdict,
            "checks": [dict(c) for c in self.checks],
            "counts": dict(self.counts),
            "minutes": round(self.minutes, 3),
            "waiting_for": self.waiting_for,
            "agreement": self.agreement,
            "at": self.at,
        }

    def rollout_stats(self) -> dict[str, Any]:
        """What goes into the candidate's ``agentgov.rollout`` tag, for the gate's policies (shadow-agreement, latency-slo)."""
        stats: dict[str, Any] = dict(self.agreement or {})
        stats.setdefault("requests", self.counts.get("candidate", 0))
        for check in self.checks:
            if check.get("metric") == "error_rate" and check.get("candidate") is not None:
                stats.setdefault("error_rate", check["candidate"])
                stats.setdefault("production_error_rate", check["baseline"])
            if check.get("metric") == "latency_p95_ms" and check.get("candidate") is not None:
                stats.setdefault("latency_p95_ms", check["candidate"])
                stats.setdefault("production_latency_p95_ms", check["baseline"])
        stats["step"] = self.kind
        return {k: v for k, v in stats.items() if v is not None}


def arms(frame: pd.DataFrame, state: RolloutState, step: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(production's calls, the candidate's calls) of this rollout in the frame."""
    if "rollout_id" in frame.columns:
        frame = frame[frame["rollout_id"] == state.id]
    role = "shadow" if step["kind"] == "shadow" else "canary"
    base = frame[frame["stage"] == "production"]
    if state.baseline is not None:
        base = base[base["version"] == state.baseline]
    cand = frame[(frame["stage"] == role) & (frame["version"] == state.candidate)]
    return base, cand


def analyse_step(home: Any, state: RolloutState, *, now: datetime | None = None) -> StepAnalysis:
    """The current step's analysis from the inference log in ``home``."""
    from agentgov.evals import inference_log

    step = state.current_step
    assert step is not None and step["kind"] != "production", "only shadow and canary steps are analysed"
    since = datetime.fromisoformat(state.step_started_at)
    now = now or utcnow()
    frame = inference_log.read(home, state.agent, since=since)
    base, cand = arms(frame, state, step)
    return judge(state.step, step, base, cand, minutes=(now - since).total_seconds() / 60)


def judge(index: int, step: dict[str, Any], base: pd.DataFrame, cand: pd.DataFrame, *, minutes: float) -> StepAnalysis:
    from agentgov.evals.analysis import analyse

    settings = step.get("analysis") or {}
    alpha, power = float(settings.get("alpha", 0.05)), float(settings.get("power", 0.8))
    checks: list[dict[str, Any]] = []
    for metric in settings.get("metrics", []):
        name = metric["name"]
        baseline, candidate = _values(base, name), _values(cand, name)
        result = analyse(
            name,
            baseline,
            candidate,
            margin=float(metric["margin"]),
            mde=float(metric["mde"]),
            alpha=alpha,
            power=power,
            relative=bool(metric.get("relative", False)),
        ).to_dict()
        checks.append({**result, "check": name})
    agreement = None
    threshold = settings.get("shadow_agreement")
    if step["kind"] == "shadow" and threshold is not None:
        agreement, check = _agreement(base, cand, float(threshold), int(step.get("min_requests", 0)))
        checks.append(check)
    counts = {"production": len(base), "candidate": len(cand)}
    min_requests, min_minutes = int(step.get("min_requests", 0)), float(step.get("min_minutes", 0))
    verdicts = [c["verdict"] for c in checks]
    waiting: list[str] = []
    if FAIL in verdicts:
        verdict = FAIL
        failed = [c for c in checks if c["verdict"] == FAIL]
        waiting.append("nothing: " + "; ".join(f"{c['check']} failed ({c['reason']})" for c in failed))
    else:
        if counts["candidate"] < min_requests:
            waiting.append(
                f"{min_requests - counts['candidate']} more candidate requests (step minimum {min_requests})"
            )
        if minutes < min_minutes:
            waiting.append(f"{min_minutes - minutes:.1f} more minutes (step minimum {min_minutes:g})")
        for check in checks:
            if check["verdict"] != PASS:
                waiting.append(f"{check['check']}: {check['reason']}")
        verdict = PASS if not waiting else INCONCLUSIVE
        if not checks and verdict == PASS and counts["candidate"] == 0:
            verdict, waiting = INCONCLUSIVE, ["traffic: no candidate request seen yet (no data never passes)"]
    return StepAnalysis(
        index,
        step["kind"],
        verdict,
        tuple(checks),
        counts,
        minutes,
        "; ".join(waiting) or "nothing: every check passed",
        agreement,
    )


def _values(frame: pd.DataFrame, metric: str) -> list[float]:
    if metric == "error_rate":
        return [
            0.0 if (e is None or (isinstance(e, float) and math.isnan(e)) or e == "") else 1.0 for e in frame["error"]
        ]
    column = {"latency_p95_ms": "latency_ms", "latency_mean_ms": "latency_ms"}.get(metric, metric)
    if column not in frame.columns:
        return []
    ok = frame["error"].isna() if "error" in frame.columns else True
    values = frame.loc[ok, column] if column == "latency_ms" else frame[column]
    return [float(v) for v in values.dropna()]


def _agreement(
    base: pd.DataFrame, cand: pd.DataFrame, threshold: float, min_requests: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    from agentgov.evals.agreement import summarise

    production = {p: row for p, row in zip(base["pairing_id"], base.to_dict("records"), strict=True) if p}
    pairs = [
        (_side(production[row["pairing_id"]]), _side(row))
        for row in cand.to_dict("records")
        if row.get("pairing_id") in production
    ]
    summary = summarise(pairs)
    stats = summary.to_rollout_stats()
    check: dict[str, Any] = {
        "check": "shadow_agreement",
        "metric": "shadow_agreement",
        "margin": threshold,
        "n_candidate": summary.requests,
        "min_n": min_requests,
    }
    if summary.interval is None:
        verdict, reason = INCONCLUSIVE, "no paired production and shadow answers yet: no data never passes"
    else:
        low, high = summary.interval
        where = f"agreement {summary.agreement:.3f}, 95% interval [{low:.3f}, {high:.3f}] vs minimum {threshold:g}"
        if high < threshold:
            verdict, reason = (
                FAIL,
                f"disagrees with production: {where}" + (f"; e.g. {summary.examples[0]}" if summary.examples else ""),
            )
        elif low >= threshold and summary.requests >= min_requests:
            verdict, reason = PASS, f"agrees with production: {where}, {summary.requests} pairs"
        else:
            verdict, reason = INCONCLUSIVE, f"not yet sure: {where}, {summary.requests} pairs (min {min_requests})"
        check.update(candidate=summary.agreement, interval=[low, high])
    for delta in ("mean_latency_delta_ms", "mean_cost_delta", "mean_tokens_delta"):  # what the pairs spent, candidate - production
        check[delta] = getattr(summary, delta)
    check.update(verdict=verdict, reason=reason)
    return stats, check


def _side(row: dict[str, Any]) -> dict[str, Any]:
    trace = row.get("trace")
    side: dict[str, Any] = {
        "action": row.get("response.action"),
        "error": None if _missing(row.get("error")) else row.get("error"),
        "latency_ms": None if _missing(row.get("latency_ms")) else row.get("latency_ms"),
        "cost": None if _missing(row.get("cost")) else row.get("cost"),
        "tokens": None if _missing(row.get("tokens")) else row.get("tokens"),
    }
    if isinstance(trace, str) and trace:
        side["trace"] = json.loads(trace)
    return side


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
