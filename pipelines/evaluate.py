"""The ``evaluate-agent`` flow: check the eval data, run the agent over it, record the results.

Each task is one step of :mod:`agentgov.pipelines.evaluation`; the flow adds a
task run per step in the Prefect UI and a summary artifact (success with its
interval, errors, latency, cost, and precision and recall per class).
Parameters are plain JSON values, so it also runs as a deployment; the
progress bar (``progress=True``) is drawn on stderr by the process running it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from agentgov.pipelines.runtime import publish_table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from agentgov.evals.offline import EvalResult, EvalSet


@task(name="check-eval-data", cache_policy=NO_CACHE)
def check_eval_data(name: str, version: int, dataset: str, agent_dir: str, label_column: str, allow_untracked: bool) -> EvalSet:
    """Find the eval file, refuse it unless it is what the version's lineage recorded, split the rows."""
    from agentgov.core.config import load_config
    from agentgov.core.types import AgentRef
    from agentgov.pipelines.evaluation import load_eval_set

    return load_eval_set(
        load_config(), AgentRef(name, version=version), dataset=dataset, agent_dir=Path(agent_dir),
        label_column=label_column, allow_untracked=allow_untracked,
    )


@task(name="run-agent", cache_policy=NO_CACHE)
def run_agent(eval_set: EvalSet, response_field: str, workers: int, progress: bool) -> EvalResult:
    """Load the registered version and call it on every row (in parallel with ``workers > 1``)."""
    from agentgov.core.config import load_config
    from agentgov.pipelines.evaluation import run

    with progress_bar(f"eval {eval_set.version.ref}", len(eval_set.requests), enabled=progress) as advance:
        return run(load_config(), eval_set, response_field=response_field, workers=workers, on_done=advance)


@task(name="record-eval", cache_policy=NO_CACHE)
def record_eval(result: EvalResult, actor: str) -> EvalResult:
    """The MLflow run and report, the audit record, then the version tag the gate reads."""
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins
    from agentgov.evals.offline import record

    config = load_config()
    audit = Home.configured(config, load_plugins(config)).audit_log
    return record(config, result, audit=audit, actor=actor)


@contextmanager
def progress_bar(description: str, total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr (only on a terminal); yields the function that advances it by one row."""
    if not enabled or not sys.stderr.isatty():
        yield lambda: None
        return
    import threading

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    lock = threading.Lock()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        row = bar.add_task(description, total=total)

        def advance() -> None:
            with lock:
                bar.advance(row)

        yield advance


def _run_name() -> str:
    from prefect.runtime import flow_run

    p = flow_run.parameters
    return f"eval {p.get('name')}/{p.get('version')}"


@flow(name="evaluate-agent", flow_run_name=_run_name, log_prints=False)
def evaluate_agent(
    name: str,
    version: int,
    dataset: str = "eval",
    agent_dir: str = ".",
    label_column: str = "expected_action",
    response_field: str = "action",
    workers: int = 1,
    allow_untracked: bool = False,
    actor: str | None = None,
    progress: bool = False,
) -> EvalResult:
    """Evaluate ``name``/``version`` offline on its eval set; record metrics, report, audit record and tag."""
    from agentgov.core.config import load_config

    eval_set = check_eval_data(name, version, dataset, str(Path(agent_dir).resolve()), label_column, allow_untracked)
    measured = run_agent(eval_set, response_field, workers, progress)
    result = record_eval(measured, actor or load_config().user)
    publish_table(
        f"eval-{name}-{version}",
        f"Offline eval of {name}/{version}",
        ("What", "Value"),
        summary_rows(result),
        description=f"{name}/{version}: task success {result.summary.success_rate:.1%} on {result.summary.samples} rows",
    )
    return result


def summary_rows(result: EvalResult) -> list[tuple[Any, ...]]:
    s = result.summary
    low, high = s.success_ci
    latency = s.latency_ms
    rows: list[tuple[Any, ...]] = [
        ("dataset", f"{result.data.path} (md5 {result.data.md5[:12]}, {'tracked' if result.data.tracked else 'UNTRACKED'})"),
        ("samples", s.samples),
        ("task success", f"{s.success_rate:.3f} (95% CI {low:.3f}-{high:.3f})"),
        ("errors", f"{s.errors} ({s.error_rate:.2%})"),
        ("latency p50 / p95 / p99", " / ".join(f"{latency[q]:.2f} ms" if latency[q] is not None else "-" for q in ("p50", "p95", "p99"))),
        ("cost per task", f"{s.cost_per_task:g}"),
    ]
    for label, c in s.classes.items():
        p = "-" if c.precision is None else f"{c.precision:.3f}"
        r = "-" if c.recall is None else f"{c.recall:.3f}"
        rows.append((f"class {label}", f"precision {p}, recall {r} (support {c.support}, {c.fp} false positives, {c.fn} false negatives)"))
    rows += [("note", note) for note in result.notes]
    rows.append(("report", result.report or "-"))
    return rows
