"""One drift check of an agent version's live traffic, from the inference log to the gate's evidence.

The current data is the version's calls in the last window of the inference
log. The reference is one of:

- ``production-window``: the agent's production calls in the window before (any version);
- ``eval``: the version's eval dataset (role ``eval`` in its manifest), read from the agent folder;
- a file (CSV, JSON Lines or Parquet) with the request fields as columns.

The evaluator (``evidently-drift`` unless another is named) gives the verdict
on all rows. Unless the data were too few or the evaluator failed, Evidently
renders its HTML report and JSON snapshot (on a sample, see
:mod:`agentgov.evals.drift_report`) into ``<home>/reports/drift/<agent>/``;
both are logged as artifacts ``drift/<stamp>.{html,json}`` on the version's
MLflow run, and the snapshot joins the agent's project in the Evidently
workspace. Whatever the status, the version's ``agentgov.drift`` tag gets the
result, which the ``drift-within-limits`` policy reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import InvalidValue
from agentgov.evals.drift_report import SAMPLE_ROWS, RenderedReport
from agentgov.evals.drift_result import DriftResult, DriftStatus

if TYPE_CHECKING:
    import pandas as pd

    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager

DEFAULT_EVALUATOR = "evidently-drift"
REFERENCE_KINDS = ("production-window", "eval")


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
    report: RenderedReport | None
    report_uri: str | None
    snapshot_uri: str | None
    report_error: str | None = None  # Evidently failed to render; the verdict stands

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
            "snapshot_file": str(self.report.snapshot) if self.report else None,
            "sample_note": self.report.note if self.report else None,
            "workspace_project": self.report.workspace_project if self.report else None,
            "workspace_snapshot": self.report.workspace_snapshot if self.report else None,
            "report_error": self.report_error,
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
    evaluator: str = DEFAULT_EVALUATOR,
    now: datetime | None = None,
    sample_rows: int = SAMPLE_ROWS,
    audit: AuditLog | None = None,
    actor: str | None = None,
) -> DriftCheck:
    from agentgov.core.types import AgentRef
    from agentgov.evals import inference_log
    from agentgov.registry.backend import connect
    from agentgov.registry.store import get

    span = inference_log.parse_window(window)
    evaluate = _evaluator(plugins, evaluator)
    client = connect(config)
    agent_version = get(client, AgentRef(name, version=version)) if version is not None else _live_version(client, name)
    end = (now or datetime.now(UTC)).astimezone(UTC)
    start = end - span
    current = inference_log.read(config.home, name, version=agent_version.version, since=start, until=end)
    reference_frame, described = _reference(config, agent_version, reference, start, span, agent_dir)

    result = _evaluate(evaluate, reference_frame, current)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report = report_error = None
    if result.status in (DriftStatus.OK, DriftStatus.DRIFT):
        try:
            report = _render(config, name, agent_version.version, reference_frame, current, result, stamp, described, window, sample_rows)
        except Exception as exc:  # the report is for people; the verdict on all rows is what the gate needs
            report_error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]

    report_uri = snapshot_uri = None
    from agentgov.registry.model import TAG_DRIFT
    from agentgov.registry.store import mlflow_errors

    with mlflow_errors(f"{name}/{agent_version.version}"):
        if report is not None:
            if agent_version.run_id:
                client.log_artifact(agent_version.run_id, str(report.html), "drift")
                client.log_artifact(agent_version.run_id, str(report.snapshot), "drift")
                report_uri = f"runs:/{agent_version.run_id}/drift/{report.html.name}"
                snapshot_uri = f"runs:/{agent_version.run_id}/drift/{report.snapshot.name}"
            else:
                report_uri, snapshot_uri = str(report.html), str(report.snapshot)
        check = DriftCheck(
            name, agent_version.version, described, start, end, evaluator, result, stamp, report, report_uri, snapshot_uri,
            report_error,
        )
        client.set_model_version_tag(name, str(agent_version.version), TAG_DRIFT, json.dumps(check.tag()))
    if audit is not None:
        payload = {k: v for k, v in check.to_dict().items() if k != "columns"}
        payload["drifted_columns"] = list(result.drifted_columns)
        audit.append(actor=actor or config.user, action="drift.check", subject=f"{name}/{agent_version.version}", payload=payload)
    return check


def _evaluator(plugins: PluginManager, name: str) -> Any:
    from agentgov.evals.protocol import EVALUATORS

    found = plugins.collect(EVALUATORS)
    if name not in found:
        raise InvalidValue(f"no evaluator named {name!r}", hint=f"installed: {', '.join(sorted(found)) or 'none'}")
    return found[name].item


def _evaluate(evaluator: Any, reference: pd.DataFrame, current: pd.DataFrame) -> DriftResult:
    """The evaluator's result; a crash or a result of the wrong type is a result with status ``error``."""
    try:
        result = evaluator.evaluate(reference, current)
    except Exception as exc:
        result = f"{type(exc).__name__}: {exc}"
    if not isinstance(result, DriftResult):
        message = result if isinstance(result, str) else f"evaluator {evaluator.name!r} returned {type(result).__name__}, not a DriftResult"
        return DriftResult((), 0.0, False, 0.5, len(reference), len(current), DriftStatus.ERROR, message=message.splitlines()[0])
    return result


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


def _render(
    config: Config,
    name: str,
    version: int,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    result: DriftResult,
    stamp: str,
    described: str,
    window: str,
    sample_rows: int,
) -> RenderedReport:
    import dataclasses

    from agentgov.evals.drift_features import comparable
    from agentgov.evals.drift_report import add_to_workspace, render, reports_dir

    ref_features, cur_features = comparable(reference, current)
    verdict = f"{result.status.value}, {result.share_drifted:.0%} of {len(result.columns)} columns drifted"
    report, snapshot = render(
        ref_features,
        cur_features,
        directory=reports_dir(config.home, name),
        stamp=stamp,
        title=f"Drift of {name}/{version}: last {window} against {described}",
        verdict=verdict,
        sample_rows=sample_rows,
    )
    project, snapshot_id = add_to_workspace(config.home, name, snapshot)
    return dataclasses.replace(report, workspace_project=project, workspace_snapshot=snapshot_id)
