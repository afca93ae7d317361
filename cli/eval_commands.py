"""``agentgov eval``: offline task evaluation of a registered version."""

from __future__ import annotations

import os
from pathlib import Path

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say


@click.command("eval")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--dataset", default="eval", show_default=True, help="'eval' (the manifest's dataset with that role) or a CSV/Parquet PATH.")
@click.option("--agent", "agent_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), help="The agent folder the manifest's dataset paths are relative to (default: here).")
@click.option("--label-column", default="expected_action", show_default=True, help="The column holding the expected answer.")
@click.option("--response-field", default="action", show_default=True, help="The response field compared with the label.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Calls at once (default: min(4, CPUs)); 1 for an agent that is not thread-safe.")
@click.option("--allow-untracked", is_flag=True, help="Evaluate on a file that is not what the version's lineage recorded (noted in the results).")
@click.option("--json", "as_json", is_flag=True, help="Print the full results as JSON.")
@click.pass_obj
def eval_(
    state: State, name: str, version: int, dataset: str, agent_dir: Path, label_column: str, response_field: str,
    workers: int | None, allow_untracked: bool, as_json: bool,
) -> None:
    """Run version VERSION of agent NAME over its labeled eval set and record the results.

    Records task success (with a 95% Wilson interval), per-class precision and
    recall, error rate, latency p50/p95/p99 and cost per task as an MLflow run
    and as the version's evidence for the eval-thresholds, latency-slo and
    cost-budget policies.
    """
    from agentgov.evals.offline import default_workers
    from agentgov.pipelines.runtime import run_flow

    result = run_flow(
        "agentgov.pipelines.evaluate:evaluate_agent",
        config=state.config,
        console=state.debug,
        name=name,
        version=version,
        dataset=dataset if dataset == "eval" else os.path.abspath(dataset),
        agent_dir=str(agent_dir.resolve()),
        label_column=label_column,
        response_field=response_field,
        workers=workers or default_workers(),
        allow_untracked=allow_untracked,
        actor=state.config.user,
        progress=not as_json,
    )
    if as_json:
        print_json(result.to_dict())
        return
    s = result.summary
    low, high = s.success_ci
    lat = s.latency_ms
    say(f"{name}/{version} on {result.data.path} ({s.samples} rows): task success {s.success_rate:.1%} (95% CI {low:.1%}-{high:.1%}), "
        f"errors {s.errors} ({s.error_rate:.1%})")
    say(f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms; cost per task {s.cost_per_task:g}")
    print_table(
        ("Class", "Precision", "Recall", "Support", "False +", "False -"),
        [(label, _fmt(c.precision), _fmt(c.recall), c.support, c.fp, c.fn) for label, c in s.classes.items()],
    )
    for note in result.notes:
        say(f"note: {note}")
    say(f"Recorded as {result.report} and the version's agentgov.eval tag.")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


COMMANDS = (eval_,)
