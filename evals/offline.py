"""Offline task evaluation: run a registered agent version over its labeled eval set, and record how it did.

Three steps, each usable alone (:mod:`agentgov.pipelines.evaluate` runs them,
and its ``evaluate-agent`` flow makes each a task):

1. :func:`locate` finds the eval file (the registered manifest's dataset with
   role ``eval``, under the agent folder, or a path), :func:`check_tracked`
   refuses one whose md5 is not what the version's lineage recorded for it (the
   score would describe other data than the version was registered with), and
   :func:`split_rows` splits each row into a request (the row minus the label
   column) and the expected answer.
2. :func:`run_eval` calls the agent on every request, in a thread pool when
   ``workers > 1``; an exception or a response without the answer field is an
   error outcome, never a crash of the eval.
3. :func:`record` writes an MLflow run (metrics, ``eval/results.json``), the
   audit record ``eval.recorded``, then the version tag ``agentgov.eval`` that
   the ``eval-thresholds``, ``cost-budget`` and ``latency-slo`` policies read.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import AgentgovError
from agentgov.evals.metrics import Outcome, Summary, summarize
from agentgov.evals.usage import reported_usage

if TYPE_CHECKING:
    import pandas as pd

    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.registry.model import AgentVersion

EVAL_ROLE = "eval"
DEFAULT_LABEL = "expected_action"
DEFAULT_RESPONSE_FIELD = "action"
REPORT_PATH = "eval/results.json"
TAG_LIMIT = 100_000  # MLflow's limit on a model version tag value
ERROR_EXAMPLES = 10


class EvalError(AgentgovError):
    """The eval cannot run as asked: no eval data, unreadable or unlabeled rows."""


class UntrackedEvalData(EvalError):
    """The eval file is not the one the version's lineage recorded."""


def default_workers() -> int:
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class EvalData:
    """The eval file and how it compares with what the version was registered with."""

    file: Path
    path: str  # as the manifest and the lineage name it, else the file's own path
    md5: str
    recorded_md5: str | None  # the md5 DVC tracked at registration; None when it tracked none
    tracked: bool  # the file is exactly what the lineage recorded

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "md5": self.md5, "recorded_md5": self.recorded_md5, "tracked": self.tracked}


@dataclass(frozen=True)
class EvalSet:
    version: AgentVersion
    data: EvalData
    label_column: str
    requests: tuple[dict[str, Any], ...]
    expected: tuple[str, ...]


@dataclass(frozen=True)
class EvalResult:
    """What an eval measured; ``run_id`` once recorded."""

    agent: str
    version: int
    data: EvalData
    label_column: str
    response_field: str
    workers: int
    summary: Summary
    confusion: dict[str, dict[str, int]]
    error_examples: tuple[str, ...]
    notes: tuple[str, ...] = ()
    run_id: str | None = None
    duration_s: float = 0.0

    @property
    def report(self) -> str | None:
        return f"runs:/{self.run_id}/{REPORT_PATH}" if self.run_id else None

    def tag(self) -> dict[str, Any]:
        """The ``agentgov.eval`` version tag: exactly what the gate's policies read, compact."""
        s = self.summary
        low, high = s.success_ci
        tag: dict[str, Any] = {
            "samples": s.samples,
            "task_success": {"rate": round(s.success_rate, 6), "ci_low": round(low, 6), "ci_high": round(high, 6)},
            "error_rate": round(s.error_rate, 6),
            "errors": s.errors,
            "latency_ms": s.latency_ms,
            "cost_per_task": s.cost_per_task,
            "per_class": {label: c.to_dict() for label, c in s.classes.items()},
            "report": self.report,
            "dataset": {"path": self.data.path, "md5": self.data.md5},
        }
        if len(json.dumps(tag)) > TAG_LIMIT:  # thousands of labels: the full table stays in the report
            biggest = sorted(s.classes.items(), key=lambda item: -item[1].support)[:100]
            tag["per_class"] = {label: c.to_dict() for label, c in sorted(biggest)}
            tag["per_class_truncated"] = True
        return tag

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics."""
        s = self.summary
        flat: dict[str, float] = {
            "samples": s.samples,
            "task_success_rate": s.success_rate,
            "task_success_ci_low": s.success_ci[0],
            "task_success_ci_high": s.success_ci[1],
            "error_rate": s.error_rate,
            "errors": s.errors,
            "cost_per_task": s.cost_per_task,
        }
        flat.update({f"latency_{q}_ms": v for q, v in s.latency_ms.items() if v is not None})
        for label, c in s.classes.items():
            key = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in label)[:100]
            if c.precision is not None:
                flat[f"precision.{key}"] = c.precision
            if c.recall is not None:
                flat[f"recall.{key}"] = c.recall
        return flat

    def to_dict(self) -> dict[str, Any]:
        """The full report (``eval/results.json``): the tag plus the confusion matrix, failures and notes."""
        tag = self.tag()
        tag.pop("per_class_truncated", None)
        return {
            "agent": self.agent,
            "version": self.version,
            **tag,
            "per_class": {label: c.to_dict() for label, c in self.summary.classes.items()},
            "dataset": {**self.data.to_dict(), "label_column": self.label_column},
            "response_field": self.response_field,
            "workers": self.workers,
            "duration_s": round(self.duration_s, 3),
            "confusion": self.confusion,
            "error_examples": list(self.error_examples),
            "notes": list(self.notes),
        }


# -- 1. the eval data ------------------------------------------------------------


def locate(version: AgentVersion, dataset: str, agent_dir: Path) -> tuple[Path, str]:
    """The eval file and its name in the lineage: the manifest's ``eval`` dataset, or a path."""
    if dataset == EVAL_ROLE:
        declared = [d["path"] for d in version.manifest.get("datasets") or [] if d.get("role") == EVAL_ROLE]
        if not declared:
            raise EvalError(
                f"the manifest of {version.ref} declares no dataset with role eval",
                hint="track one with `agentgov data add FILE --role eval` and register again, or pass --dataset PATH",
            )
        if len(declared) > 1:
            raise EvalError(f"the manifest of {version.ref} declares several eval datasets ({', '.join(declared)}); pass --dataset PATH")
        file = agent_dir / declared[0]
        if not file.is_file():
            raise EvalError(
                f"{file}: no such file (the eval dataset of {version.ref})",
                hint=f"run in the agent folder or pass --agent DIR; `agentgov data checkout {version.name} {version.version}` restores it",
            )
        return file, declared[0]
    file = Path(dataset)
    try:
        name = file.resolve().relative_to(agent_dir.resolve()).as_posix()
    except ValueError:
        name = str(file)
    return file, name


def check_tracked(version: AgentVersion, file: Path, path: str, md5: str, *, allow_untracked: bool) -> EvalData:
    """Compare the ``md5`` of ``file`` with what the version's lineage recorded for ``path``; refuse a mismatch unless allowed."""
    lineage = version.lineage
    recorded = lineage.get(f"dataset.{path}")
    if recorded in ("untracked", "unreadable") or lineage.get(f"dataset_state.{path}") == "modified":
        why = f"{version.ref} was registered with {path} not tracked by DVC"
        recorded = None
    elif recorded is None:
        why = f"{version.ref} was registered without {path} in its datasets"
    else:
        why = f"{file} differs from the {path} that {version.ref} was registered with (md5 {md5[:12]} here, {recorded[:12]} recorded)"
    tracked = recorded == md5
    if not tracked and not allow_untracked:
        hint = (
            f"restore it with `agentgov data checkout {version.name} {version.version}`, or pass --allow-untracked"
            if recorded
            else "track it (`agentgov data add FILE --role eval`) and register again, or pass --allow-untracked"
        )
        raise UntrackedEvalData(f"refusing to evaluate on untracked data: {why}", hint=hint)
    return EvalData(file, path, md5, recorded, tracked)


def split_rows(version: AgentVersion, data: EvalData, frame: pd.DataFrame, label_column: str) -> EvalSet:
    """The eval rows split into requests (the row minus the label column) and expected answers."""
    if label_column not in frame.columns:
        raise EvalError(f"{data.file}: no label column '{label_column}' (columns: {', '.join(map(str, frame.columns[:12]))}); pass --label-column")
    frame = frame.astype(object).where(frame.notna(), None)
    unlabeled = [i + 2 for i, value in enumerate(frame[label_column]) if value is None or str(value).strip() == ""]
    if unlabeled:
        raise EvalError(f"{data.file}: {len(unlabeled)} rows have no {label_column} (first at line {unlabeled[0]})")
    expected = tuple(str(value) for value in frame[label_column])
    requests = tuple(frame.drop(columns=[label_column]).to_dict(orient="records"))
    return EvalSet(version, data, label_column, requests, expected)


# -- 2. running the agent ---------------------------------------------------------


def run_one(act: Callable[[dict[str, Any]], Any], request: Mapping[str, Any], expected: str, response_field: str) -> Outcome:
    start = time.perf_counter()
    try:
        response = act(dict(request))
    except Exception as exc:  # the agent's failure is a measured outcome, not the eval's
        return Outcome(expected, None, (time.perf_counter() - start) * 1000, error=f"{type(exc).__name__}: {exc}"[:300])
    latency = (time.perf_counter() - start) * 1000
    if not isinstance(response, Mapping):
        return Outcome(expected, None, latency, error=f"invalid response: {type(response).__name__}, not a mapping")
    answer = response.get(response_field)
    if answer is None or str(answer) == "":
        return Outcome(expected, None, latency, error=f"invalid response: no '{response_field}'")
    return Outcome(expected, str(answer), latency, cost=reported_usage(response).cost)


def run_eval(
    act: Callable[[dict[str, Any]], Any],
    eval_set: EvalSet,
    *,
    response_field: str = DEFAULT_RESPONSE_FIELD,
    workers: int = 1,
    on_done: Callable[[], object] | None = None,
) -> tuple[Outcome, ...]:
    """Every row's outcome, in row order; ``on_done`` is called after each (a progress bar)."""
    if workers < 1:
        raise EvalError(f"--workers must be at least 1, not {workers}")
    pairs = list(zip(eval_set.requests, eval_set.expected, strict=True))

    def one(pair: tuple[dict[str, Any], str]) -> Outcome:
        outcome = run_one(act, pair[0], pair[1], response_field)
        if on_done is not None:
            on_done()
        return outcome

    if workers == 1:
        return tuple(one(pair) for pair in pairs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agentgov-eval") as pool:
        return tuple(pool.map(one, pairs))


def build_result(eval_set: EvalSet, outcomes: Sequence[Outcome], *, response_field: str, workers: int, duration_s: float = 0.0) -> EvalResult:
    if not outcomes:
        raise EvalError(f"{eval_set.data.file}: no rows to evaluate")
    summary = summarize(outcomes)
    confusion: dict[str, Counter[str]] = {}
    for o in outcomes:
        confusion.setdefault(o.expected, Counter())[o.predicted if o.error is None else "(error)"] += 1
    notes = []
    if summary.cost_reported == 0:
        notes.append("the agent's responses carry no 'cost' field: cost per task is recorded as 0")
    elif summary.cost_reported < summary.samples:
        notes.append(f"only {summary.cost_reported} of {summary.samples} responses carry a 'cost'; the others count as 0")
    if not eval_set.data.tracked:
        notes.append("evaluated with --allow-untracked: the eval file is not the one recorded in the version's lineage")
    if workers > 1:
        notes.append(f"{workers} calls ran at once: latency includes contention between them")
    examples = [f"row {i + 2}: {o.error}" for i, o in enumerate(outcomes) if o.error is not None][:ERROR_EXAMPLES]
    return EvalResult(
        agent=eval_set.version.name,
        version=eval_set.version.version,
        data=eval_set.data,
        label_column=eval_set.label_column,
        response_field=response_field,
        workers=workers,
        summary=summary,
        confusion={e: dict(sorted(c.items())) for e, c in sorted(confusion.items())},
        error_examples=tuple(examples),
        notes=tuple(notes),
        duration_s=duration_s,
    )


# -- 3. recording -------------------------------------------------------------------


def record(config: Config, result: EvalResult, *, audit: AuditLog, actor: str) -> EvalResult:
    """An MLflow run with the metrics and ``eval/results.json``, the audit record, then the version tag.

    The tag comes last: the gate never reads results that the audit log lacks.
    """
    from mlflow.entities import Metric, Param, RunTag

    from agentgov.registry.backend import connect, experiment_id, quiet
    from agentgov.registry.model import TAG_AGENT, TAG_EVAL
    from agentgov.registry.store import mlflow_errors

    client = connect(config)
    subject = f"{result.agent}/{result.version}"
    with mlflow_errors(f"recording the eval of {subject}"), quiet():
        tags = {TAG_AGENT: result.agent, "agentgov.version": str(result.version), "agentgov.kind": "eval"}
        run = client.create_run(experiment_id(client, config), run_name=f"eval {subject}", tags=tags)
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        params = {"dataset": result.data.path, "dataset_md5": result.data.md5, "label_column": result.label_column,
                  "response_field": result.response_field, "workers": str(result.workers)}
        client.log_batch(
            run_id,
            metrics=[Metric(key, float(value), now, 0) for key, value in result.metrics().items()],
            params=[Param(key, value) for key, value in params.items()],
            tags=[RunTag("mlflow.note.content", f"Offline eval of {subject}")],
        )
        recorded = replace(result, run_id=run_id)
        client.log_dict(run_id, recorded.to_dict(), REPORT_PATH)
        client.set_terminated(run_id)
    tag = recorded.tag()
    audit.append(actor=actor, action="eval.recorded", subject=subject, payload=tag)
    with mlflow_errors(f"tagging {subject} with its eval"), quiet():
        client.set_model_version_tag(result.agent, str(result.version), TAG_EVAL, json.dumps(tag, separators=(",", ":")))
    return recorded
