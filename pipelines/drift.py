"""One drift check of an agent version's live traffic, from the inference log to the gate's evidence.

The current data is the version's calls in the last window of the inference
log. The reference is one of:

- ``production-window``: the agent's production calls in the window before (any version);
- ``eval``: the version's eval dataset (role ``eval`` in its manifest), read from the agent folder;
- a file (CSV, JSON Lines or Parquet) with the request fields as columns.

The evaluator is the plugin named in the configuration (``[drift] evaluator``,
``$AGENTGOV_DRIFT_EVALUATOR``; ``evidently-drift`` by default) unless the
caller names another; it gives the verdict on all rows. Unless the data were
too few or the evaluation failed, an evaluator that renders reports
(:class:`agentgov.evals.ReportingEvaluator`, such as ``evidently-drift``)
writes one; its files are logged as artifacts ``drift/<file>`` on the
version's MLflow run. Whatever the status, the version's ``agentgov.drift``
tag gets the result, which the ``drift-within-limits`` policy reads; the check
then runs that policy for every stage whose gate has it, so the caller can say
the verdict the gate will reach with the configured limits.

This is where the drift engine (``agentgov.evals``), the registry and the
gate's policy (``agentgov.policies``) meet: the ``agentgov drift`` command and
the ``drift-monitor`` flow both call :func:`check_drift`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import AgentgovError, InvalidValue
from agentgov.evals import (
    EVALUATORS,
    DriftReport,
    DriftResult,
    DriftStatus,
    Evaluator,
    ReportingEvaluator,
    ReportRequest,
)

if TYPE_CHECKING:
    import pandas as pd

    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager

REFERENCE_KINDS = ("production-window", "eval")
GATE_POLICY = "drift-within-limits"


@dataclass(frozen=True)
class GateVerdict:
    """What ``drift-within-limits`` says about the recorded result when the version enters ``stage``."""

    stage: str
    status: str  # pass | fail | inconclusive | error
    reason: str
    mode: str = "enforce"

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "policy": GATE_POLICY, "status": self.status, "reason": self.reason, "mode": self.mode}


@dataclass(frozen=True)
class DriftCheck:
    agent: str
    version: int
    reference: str
    window_start: datetime
    window_end: datetime
    evaluator: str
    result: DriftResult
    stamp: str
    report: DriftReport | None
    report_uri: str | None
    snapshot_uri: str | None
    report_error: str | None = None  # the report failed to render; the verdict stands
    gate: tuple[GateVerdict, ...] = ()
    gate_error: str | None = None  # the gate's verdict could not be worked out (a broken [stages] table, say)

    def tag(self) -> dict[str, Any]:
        """The ``agentgov.drift`` tag: the result plus where its report is."""
        return {
            **self.result.to_dict(),
            "report": self.report_uri,
            "snapshot": self.snapshot_uri,
            "reference": self.reference,
            "window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "evaluator": self.evaluator,
            "stamp": self.stamp,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "version": self.version,
            **self.tag(),
            "report_file": str(self.report.html) if self.report else None,
            "snapshot_file": str(self.report.snapshot) if self.report and self.report.snapshot else None,
            "sample_note": self.report.note if self.report else None,
            "workspace_project": self.report.workspace_project if self.report else None,
            "workspace_snapshot": self.report.workspace_snapshot if self.report else None,
            "report_error": self.report_error,
            "gate": [verdict.to_dict() for verdict in self.gate],
            "gate_error": self.gate_error,
        }


def check_drift(
    config: Config,
    plugins: PluginManager,
    name: str,
    *,
    version: int | None = None,
    reference: str = "production-window",
    window: str = "24h",
    agent_dir: Path = Path("."),
    evaluator: str | None = None,
    now: datetime | None = None,
    sample_rows: int | None = None,
    audit: AuditLog | None = None,
    actor: str | None = None,
) -> DriftCheck:
    """Check the drift of ``name`` (``version``, else the live one) over the ``window`` ending ``now``; record it.

    ``evaluator`` defaults to the configured one; ``sample_rows`` is handed to a
    report renderer that samples (``evidently-drift``).
    """
    from agentgov.core.types import AgentRef
    from agentgov.evals import inference_log
    from agentgov.registry.backend import connect
    from agentgov.registry.model import TAG_DRIFT
    from agentgov.registry.store import get, mlflow_errors

    span = inference_log.parse_window(window)
    evaluator_name = evaluator or config.drift_evaluator
    chosen = _evaluator(plugins, evaluator_name)
    client = connect(config)
    agent_version = get(client, AgentRef(name, version=version)) if version is not None else _live_version(client, name)
    end = (now or datetime.now(UTC)).astimezone(UTC)
    start = end - span
    current = inference_log.read(config.home, name, version=agent_version.version, since=start, until=end)
    reference_frame, described = _reference(config, agent_version, reference, start, span, agent_dir)

    result = _evaluate(chosen, reference_frame, current)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report = report_error = None
    if result.status in (DriftStatus.OK, DriftStatus.DRIFT) and isinstance(chosen, ReportingEvaluator):
        request = ReportRequest(
            home=config.home,
            agent=name,
            version=agent_version.version,
            stamp=stamp,
            title=f"Drift of {name}/{agent_version.version}: last {window} against {described}",
            verdict=f"{result.status.value}, {result.share_drifted:.0%} of {len(result.columns)} columns drifted",
            options={} if sample_rows is None else {"sample_rows": sample_rows},
        )
        try:
            report = chosen.render_report(reference_frame, current, result, request)
            if not isinstance(report, DriftReport):
                raise TypeError(f"render_report returned {type(report).__name__}, not a DriftReport")
        except Exception as exc:  # the report is for people; the verdict on all rows is what the gate needs
            report = None
            report_error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]

    report_uri = snapshot_uri = None
    with mlflow_errors(f"{name}/{agent_version.version}"):
        if report is not None:
            if agent_version.run_id:
                for path in report.files:
                    client.log_artifact(agent_version.run_id, str(path), "drift")
                report_uri = f"runs:/{agent_version.run_id}/drift/{report.html.name}"
                snapshot_uri = f"runs:/{agent_version.run_id}/drift/{report.snapshot.name}" if report.snapshot else None
            else:
                report_uri, snapshot_uri = str(report.html), str(report.snapshot) if report.snapshot else None
        check = DriftCheck(
            name, agent_version.version, described, start, end, evaluator_name, result, stamp, report, report_uri, snapshot_uri,
            report_error,
        )
        client.set_model_version_tag(name, str(agent_version.version), TAG_DRIFT, json.dumps(check.tag()))
    try:
        gate = gate_verdicts(config, plugins, client, AgentRef(name, version=agent_version.version), actor or config.user, audit)
        check = _with(check, gate=gate)
    except AgentgovError as exc:
        check = _with(check, gate_error=str(exc))
    if audit is not None:
        payload = {k: v for k, v in check.to_dict().items() if k != "columns"}
        payload["drifted_columns"] = list(result.drifted_columns)
        audit.append(actor=actor or config.user, action="drift.check", subject=f"{name}/{agent_version.version}", payload=payload)
    return check


def gate_verdicts(config: Config, plugins: PluginManager, client: Any, ref: Any, actor: str, audit: Any = None) -> tuple[GateVerdict, ...]:
    """``drift-within-limits`` run as the gate runs it, on the version's recorded tag, for every stage whose gate has it."""
    from agentgov.core.types import Stage
    from agentgov.policies import POLICIES
    from agentgov.policies.context import GateRequest, RegistryEvidence
    from agentgov.policies.runner import run_policy
    from agentgov.policies.settings import stage_policies

    available = plugins.collect(POLICIES)
    verdicts = []
    for stage in (Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION):
        for configured in stage_policies(config, stage, available):
            if configured.name != GATE_POLICY:  # a policy switched off is not in the list
                continue
            evidence = RegistryEvidence(config, client, audit, ref)  # reads the tag just written
            result = run_policy(configured, available.get(GATE_POLICY), GateRequest(ref, stage, actor), evidence)
            verdicts.append(GateVerdict(stage.value, result.status.value, result.reason, configured.mode.value))
    return tuple(verdicts)


def _with(check: DriftCheck, **changes: Any) -> DriftCheck:
    import dataclasses

    return dataclasses.replace(check, **changes)


def _evaluator(plugins: PluginManager, name: str) -> Evaluator:
    found = plugins.collect(EVALUATORS)
    if name not in found:
        raise InvalidValue(
            f"no evaluator named {name!r}",
            hint=f"installed: {', '.join(sorted(found)) or 'none'} (set [drift] evaluator in agentgov.toml or pass --evaluator)",
        )
    return found[name].item


def _evaluate(evaluator: Evaluator, reference: pd.DataFrame, current: pd.DataFrame) -> DriftResult:
    """The evaluator's result; a crash, a result of the wrong type or a NaN score is a result with status ``error``."""
    try:
        result: Any = evaluator.evaluate(reference, current)
    except Exception as exc:
        result = f"{type(exc).__name__}: {exc}"
    if not isinstance(result, DriftResult):
        message = result if isinstance(result, str) else f"evaluator {evaluator.name!r} returned {type(result).__name__}, not a DriftResult"
        return DriftResult.failed(message, reference_rows=len(reference), current_rows=len(current))
    return result.checked()


def _live_version(client: Any, name: str) -> Any:
    from agentgov.core.types import AgentRef, Stage
    from agentgov.registry.errors import NotFound
    from agentgov.registry.store import aliases, get

    held = aliases(client, name)
    for stage in (Stage.PRODUCTION, Stage.SHADOW, Stage.CANARY):
        if stage.value in held:
            return get(client, AgentRef(name, version=held[stage.value]))
    raise NotFound(f"no version of {name} is in production, shadow or canary", hint="name one with --version")


def _reference(
    config: Config, version: Any, reference: str, start: datetime, span: timedelta, agent_dir: Path
) -> tuple[pd.DataFrame, str]:
    from agentgov.evals import inference_log

    if reference == "production-window":
        frame = inference_log.read(config.home, version.name, stage="production", since=start - span, until=start)
        return frame, f"production-window {(start - span).isoformat()} .. {start.isoformat()}"
    if reference == "eval":
        evals = [d for d in version.manifest.get("datasets", []) if d.get("role") == "eval"]
        if not evals:
            raise InvalidValue(
                f"{version.name}/{version.version} has no eval dataset in its manifest",
                hint="use --reference production-window or --reference FILE",
            )
        path = Path(agent_dir) / evals[0]["path"]
        if not path.is_file():
            raise InvalidValue(
                f"the eval dataset {path} is not here",
                hint=f"run from the agent folder (or --agent DIR), or `agentgov data checkout {version.name} {version.version}`",
            )
        return inference_log.load_file(path), f"eval {evals[0]['path']}"
    path = Path(reference)
    if not path.is_file():
        raise InvalidValue(
            f"reference {reference!r} is neither {' nor '.join(REFERENCE_KINDS)} nor a file",
        )
    return inference_log.load_file(path), f"file {path}"
