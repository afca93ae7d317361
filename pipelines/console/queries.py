"""What the console's pages show, gathered from the engines' own readers (nothing here decides anything).

Every function returns plain dicts and lists for the templates. The audit log is read through one
:class:`IndexedAuditLog` per :class:`Sources` (parsed once, then only what was appended); MLflow through one client,
with the registry read in as few calls as a page allows (one search for all agents, not calls per agent).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from agentgov.core.audit import AuditLog
from agentgov.core.config import Config
from agentgov.core.plugins import PluginManager
from agentgov.pipelines.console.auditindex import IndexedAuditLog

LIVE_ALIASES = ("production", "canary", "shadow")
WAITING = "needs-review"
VERSIONS_PER_PAGE = 25
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # safe inside a quoted MLflow filter value


@dataclass(frozen=True)
class Sources:
    """Where the console reads from: the configuration, the plugins and the audit log of one home."""

    config: Config
    plugins: PluginManager
    audit: AuditLog

    @cached_property
    def client(self) -> Any:
        from agentgov.registry.backend import connect

        return connect(self.config)

    @cached_property
    def log(self) -> IndexedAuditLog:
        """The audit log the pages read: ``audit``'s file, kept parsed and indexed in this process."""
        return IndexedAuditLog(self.audit.path, self.audit.masker)

    @cached_property
    def rollout_context(self) -> Any:
        from agentgov.pipelines.rollout.controller import Context

        return Context(self.config, self.plugins, self.log)


def _when(text: str | None) -> str:
    return text[:19].replace("T", " ") if text else ""


def _ms(created_at: int) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(created_at / 1000, UTC).isoformat()[:19].replace("T", " ")


def _decision(record: Any) -> dict[str, Any]:
    return {**record.payload, "subject": record.subject, "recorded_at": record.time, "seq": record.seq}


def _decisions(log: IndexedAuditLog, agent: str | None = None) -> list[dict[str, Any]]:
    """Every recorded decision (of ``agent``), oldest first, with its audit time."""
    return [
        _decision(r)
        for r in log.select(agent=agent, action="decision")
        if agent is None or r.subject.rpartition("/")[0] == agent
    ]


def _last_decisions(log: IndexedAuditLog, agents: set[str]) -> dict[str, dict[str, Any]]:
    """The last recorded decision of each of ``agents`` that has one (one read of the log, newest first)."""
    last: dict[str, dict[str, Any]] = {}
    for record in reversed(log.select(action="decision")):
        agent = record.subject.rpartition("/")[0]
        if agent in agents and agent not in last:
            last[agent] = _decision(record)
            if len(last) == len(agents):
                break
    return last


def drift_badge(tag: str | None) -> dict[str, str]:
    """The ``agentgov.drift`` tag as a badge: ok / drift / insufficient data / error, or none."""
    if tag is None:
        return {"status": "none", "label": "no check"}
    try:
        status = str(json.loads(tag).get("status", "error"))
    except (ValueError, AttributeError):
        status = "error"
    labels = {"ok": "ok", "drift": "drift", "insufficient-data": "insufficient data", "error": "error"}
    return {"status": status if status in labels else "error", "label": labels.get(status, "error")}


def _rollout(model: Any) -> dict[str, Any] | None:
    """The rollout recorded on a registered model, for the templates."""
    from agentgov.pipelines.rollout.state import state_of

    state = state_of(model)
    if state is None:
        return None
    return {**state.to_dict(), "step_text": state.describe_step(), "active": state.active}


def _model(src: Sources, name: str) -> Any:
    """The registered model ``name`` (its description, aliases and tags), :class:`NotFound` when not an agent's."""
    from agentgov.registry.backend import LOCK_PREFIX
    from agentgov.registry.errors import NotFound
    from agentgov.registry.model import TAG_AGENT
    from agentgov.registry.store import mlflow_errors

    with mlflow_errors(f"agent {name}"):
        model = src.client.get_registered_model(name)
    if (model.tags or {}).get(TAG_AGENT) != "true" or name.startswith(LOCK_PREFIX):
        raise NotFound(f"agent {name}: not found")
    return model


def _live_tags(src: Sources, live: dict[str, int]) -> dict[str, dict[str, str]]:
    """The tags of each agent's live version (``{name: version}``): one search per distinct version number for
    all the agents at that number, instead of one read per agent."""
    from agentgov.registry.store import mlflow_errors

    by_number: dict[int, list[str]] = {}
    for name, version in live.items():
        by_number.setdefault(version, []).append(name)
    tags: dict[str, dict[str, str]] = {}
    with mlflow_errors("reading the live versions"):
        for version, names in sorted(by_number.items()):
            plain = [n for n in names if _PLAIN_NAME.match(n)]
            for name in set(names) - set(plain):  # a name that cannot be quoted in a filter: read on its own
                tags[name] = dict(src.client.get_model_version(name, str(version)).tags or {})
            if plain:
                quoted = ", ".join(f"'{n}'" for n in plain)
                found = src.client.search_model_versions(
                    filter_string=f"name IN ({quoted}) AND version_number = {version}", max_results=len(plain)
                )
                tags.update({mv.name: dict(mv.tags or {}) for mv in found})
    return tags


def agents(src: Sources) -> list[dict[str, Any]]:
    """The agents page: per agent, who holds each live stage, the last decision, drift and any rollout."""
    from agentgov.registry.model import TAG_DRIFT
    from agentgov.registry.store import agent_models

    models = agent_models(src.client)  # description, aliases and tags (the rollout's state) of every agent
    held = {m.name: {alias: _alias(m, alias) for alias in LIVE_ALIASES} for m in models}
    live = {
        name: version
        for name, stages in held.items()
        if (version := stages["production"] or stages["canary"] or stages["shadow"]) is not None
    }
    live_tags = _live_tags(src, live)
    last = _last_decisions(src.log, set(held))
    rows = []
    for model in models:
        name = model.name
        rollout = _rollout(model)
        rows.append(
            {
                "name": name,
                "description": model.description or "",
                "held": held[name],
                "last_decision": last.get(name),
                "drift": drift_badge(live_tags.get(name, {}).get(TAG_DRIFT)),
                "rollout": rollout if rollout and rollout["active"] else None,
            }
        )
    return rows


def _alias(model: Any, alias: str) -> int | None:
    version = (model.aliases or {}).get(alias)
    return int(version) if version is not None else None


def agent(src: Sources, name: str, at: datetime | None = None, page: int = 1) -> dict[str, Any]:
    """The agent page: versions (stage, registrant, lineage, BOM), newest first ``VERSIONS_PER_PAGE`` at a time,
    the stage history and who was live ``at``."""
    from agentgov.registry import history
    from agentgov.registry.bom import BomUnavailable
    from agentgov.registry.bom import read as read_bom
    from agentgov.registry.store import versions

    model = _model(src, name)
    every = versions(src.client, name)  # newest first
    pages = max(1, -(-len(every) // VERSIONS_PER_PAGE))
    page = min(max(page, 1), pages)
    rows = []
    for v in every[(page - 1) * VERSIONS_PER_PAGE : page * VERSIONS_PER_PAGE]:  # a BOM may be an artifact to fetch
        lineage = v.lineage
        try:
            bom = [{"section": i.section, "name": i.name, "value": i.value} for i in read_bom(src.client, v).items()]
            bom_error = ""
        except BomUnavailable as exc:
            bom, bom_error = [], str(exc)
        rows.append(
            {
                "version": v.version,
                "stage": v.stage.value if v.stage else "",
                "aliases": list(v.aliases),
                "status": v.status,
                "registered_by": lineage.get("registered_by", ""),
                "registered_at": _when(lineage.get("registered_at")) or _ms(v.created_at),
                "git_commit": lineage.get("git_commit", ""),
                "git_dirty": lineage.get("git_dirty", ""),
                "datasets": {
                    k.removeprefix("dataset."): h for k, h in sorted(lineage.items()) if k.startswith("dataset.")
                },
                "bom": bom,
                "bom_error": bom_error,
                "mlflow_url": _mlflow_url(src.config, v.name, v.version),
            }
        )
    recorded = history.load(src.log, name)
    changes = list(reversed(recorded.changes))
    holders = recorded.held_at(at) if at is not None else None
    decisions = list(reversed(_decisions(src.log, name)))
    return {
        "name": name,
        "description": model.description or "",
        "aliases": {alias: int(version) for alias, version in (model.aliases or {}).items()},
        "versions": rows,
        "page": page,
        "pages": pages,
        "version_count": len(every),
        "changes": changes,
        "at": at.isoformat()[:16] if at is not None else "",
        "holders": holders,
        "decisions": decisions,
        "rollout": _rollout(model),
        "prefect_url": _prefect_url(src.config),
    }


def _mlflow_url(config: Config, name: str, version: int) -> str | None:
    """The version in the MLflow UI, when the tracking store is a server (a sqlite file has no UI to link)."""
    from urllib.parse import quote

    uri = config.registry_uri or config.tracking_uri
    if not uri.startswith(("http://", "https://")):
        return None
    return f"{uri.rstrip('/')}/#/models/{quote(name)}/versions/{version}"


def _prefect_url(config: Config) -> str | None:
    """The flow runs in the Prefect UI: the configured Prefect server's, else the one this home's
    ``agentgov server`` hosts while it runs (``.../api`` is the API, the UI is beside it)."""
    url = config.prefect_api_url
    if not url:
        from agentgov.pipelines.server import read_state

        state = read_state(config)
        url = state.api_url if state is not None and state.alive() else None
    if not url:
        return None
    return url.rstrip("/").removesuffix("/api") + "/runs"


def decision(src: Sources, decision_id: str) -> dict[str, Any]:
    """The decision page: each policy's verdict, mode, reason and evidence, and the approvals for its version."""
    from agentgov.core.types import AgentRef, Decision, Stage
    from agentgov.policies.approvals import approvals_for
    from agentgov.registry.errors import NotFound

    found = next(
        (r for r in reversed(src.log.select(action="decision")) if str(r.payload.get("id")) == decision_id), None
    )
    if found is None:
        raise NotFound(f"decision {decision_id}: not found")
    record = _decision(found)
    made = Decision.from_dict(record)
    ref = AgentRef(made.agent.name, version=made.agent.version)
    approvals = [a.to_dict() for a in approvals_for(src.log, ref, Stage.parse(made.target.value))]
    return {
        "decision": made,
        "recorded_at": _when(record["recorded_at"]),
        "approvals": approvals,
        "accepted": dict(made.accepted),
        "overrides": dict(made.overrides),
        "dry_run": False,
        "last_recorded": None,
    }


def explain(src: Sources, name: str, version: int, target: str) -> dict[str, Any]:
    """What ``agentgov policies explain`` shows: every policy evaluated now for the move, as a dry run that
    records nothing, and the last recorded decision for that stage."""
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import prepare

    stage = Stage.parse(target)
    ref = AgentRef(name, version=version)
    prepared = prepare(src.config, ref, stage, actor=src.config.user, audit=src.log, plugins=src.plugins, dry_run=True)
    last = [d for d in _decisions(src.log, name) if d["subject"] == str(ref) and d.get("target") == stage.value]
    return {
        "decision": prepared.decision,
        "recorded_at": "",
        "dry_run": True,
        "last_recorded": last[-1] if last else None,
        "approvals": [],
        "accepted": dict(prepared.decision.accepted),
        "overrides": {},
    }


def audit(src: Sources, agent: str = "", action: str = "", limit: int = 200) -> dict[str, Any]:
    """The audit page: ``audit verify``'s result, and the newest ``limit`` records of ``agent`` with ``action``."""
    from agentgov.core.errors import AgentgovError

    try:
        checked = src.log.verify()
        verified = {"ok": True, "text": f"{checked.records} records, chain intact (head {checked.head[:12]})"}
    except AgentgovError as exc:
        verified = {"ok": False, "text": str(exc)}
    matching = src.log.select(agent=agent or None, action=action or None, newest=limit)
    return {"verified": verified, "records": matching[::-1], "agent": agent, "action": action, "limit": limit}


def review_queue(src: Sources) -> list[dict[str, Any]]:
    """Decisions waiting for a person: the latest decision about a version and stage says needs-review."""
    latest: dict[tuple[str, str], Any] = {}
    for record in src.log.select(action="decision"):
        latest[(record.subject, str(record.payload.get("target")))] = record
    return [_decision(r) for r in reversed(latest.values()) if r.payload.get("outcome") == WAITING]


def rollout(src: Sources, name: str) -> dict[str, Any]:
    """The rollout page: ``agentgov rollout status``'s own report, plus the analyses recorded over time."""
    from agentgov.pipelines.rollout.report import report

    found = report(src.rollout_context, name)
    rollout_id = found["rollout"].get("id")
    series = []
    for record in src.log.records(subject_prefix=name):
        payload = record.payload
        if record.action == "event.rollout-step":  # a step's end, as the event hook saw it
            payload = payload.get("payload") or {}
        elif not record.action.startswith("rollout."):
            continue
        analysis = payload.get("analysis")
        if isinstance(analysis, dict) and payload.get("rollout") == rollout_id:
            series.append({"at": analysis.get("at") or record.time, "checks": analysis.get("checks") or []})
    now = found.get("analysis")
    if isinstance(now, dict) and now.get("at") not in {point["at"] for point in series}:  # computed for this page
        series.append({"at": now.get("at"), "checks": now.get("checks") or []})
    return {**found, "name": name, "charts": charts(series)}


def charts(series: list[dict[str, Any]], width: int = 320, height: int = 100) -> list[dict[str, Any]]:
    """Per metric, the candidate-minus-baseline difference at each recorded analysis as SVG polyline points,
    with its margin as a line; nothing for a metric seen fewer than two times (no line to draw)."""
    by_metric: dict[str, list[tuple[float, float]]] = {}
    for point in series:
        for check in point["checks"]:
            if check.get("metric") and check.get("difference") is not None and check.get("margin") is not None:
                by_metric.setdefault(str(check["metric"]), []).append(
                    (float(check["difference"]), float(check["margin"]))
                )
    drawn = []
    for metric, values in sorted(by_metric.items()):
        if len(values) < 2:
            continue
        low = min(min(d for d, _ in values), 0.0)
        high = max(max(max(d, m) for d, m in values), 1e-9)
        span = (high - low) or 1.0

        def y(value: float, low: float = low, span: float = span) -> float:
            return round(height - (value - low) / span * height, 1)

        step = width / (len(values) - 1)
        points = " ".join(f"{round(i * step, 1)},{y(d)}" for i, (d, _) in enumerate(values))
        drawn.append(
            {
                "metric": metric,
                "points": points,
                "margin_y": y(values[-1][1]),
                "width": width,
                "height": height,
                "n": len(values),
            }
        )
    return drawn


def drift(src: Sources, name: str) -> dict[str, Any]:
    """The drift page: every recorded ``drift.check`` of the agent, newest first, the live version's badge and
    the drifted share over time as SVG polyline points (two checks or more)."""
    _model(src, name)
    checks = []
    for record in src.log.records(subject_prefix=name):
        if record.action != "drift.check" or record.subject.rpartition("/")[0] != name:
            continue
        p = record.payload
        share = p.get("share_drifted")
        checks.append(
            {
                "recorded_at": _when(record.time),
                "subject": record.subject,
                "status": drift_badge(json.dumps({"status": p.get("status")})),
                "share": float(share) if isinstance(share, int | float) else None,
                "drifted_columns": [str(c) for c in p.get("drifted_columns") or []],
                "reference": str(p.get("reference") or ""),
                "evaluator": str(p.get("evaluator") or ""),
                "message": str(p.get("message") or p.get("report_error") or ""),
                "stamp": str(p.get("stamp") or ""),
                "has_report": _stored_report(src, p) is not None,
                "gate": [g for g in p.get("gate") or [] if isinstance(g, dict)],
            }
        )
    newest = list(reversed(checks))
    return {
        "name": name,
        "checks": newest,
        "latest_report": next((c for c in newest if c["has_report"]), None),
        "chart": share_chart([c for c in checks if c["share"] is not None]),
    }


def share_chart(checks: list[dict[str, Any]], width: int = 480, height: int = 120) -> dict[str, Any] | None:
    """The drifted share (0..1) of each check, oldest first, as polyline points; None under two checks."""
    if len(checks) < 2:
        return None
    step = width / (len(checks) - 1)
    points = " ".join(
        f"{round(i * step, 1)},{round(height - min(max(c['share'], 0.0), 1.0) * height, 1)}"
        for i, c in enumerate(checks)
    )
    return {"points": points, "width": width, "height": height, "n": len(checks)}


def report_file(src: Sources, name: str, stamp: str) -> Any:
    """The stored HTML report of the agent's check ``stamp``, as the audit recorded it, or None: only a file
    under ``<home>/reports`` named ``<stamp>.html`` is ever served (no path comes from the request)."""
    if not stamp:
        return None
    for record in src.log.records(subject_prefix=name):
        if (
            record.action == "drift.check"
            and record.subject.rpartition("/")[0] == name
            and record.payload.get("stamp") == stamp
        ):
            return _stored_report(src, record.payload)
    return None


def _stored_report(src: Sources, payload: dict[str, Any]) -> Any:
    from pathlib import Path

    recorded, stamp = payload.get("report_file"), payload.get("stamp")
    if not recorded or not stamp:
        return None
    path = Path(str(recorded)).resolve()
    root = (Path(src.config.home) / "reports").resolve()
    return path if path.is_relative_to(root) and path.name == f"{stamp}.html" and path.is_file() else None
