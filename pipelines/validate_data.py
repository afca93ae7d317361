"""The ``validate-data`` flow: check an agent's datasets against their Great Expectations suites.

One task run per dataset, so the Prefect UI shows which one failed; the report
(JSON and HTML in ``<home>/reports/validation/<agent>/``) is ``agentgov.data``'s,
and a markdown table of the results is published as an artifact. A failing
expectation is a result, not an error: the flow completes and returns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from agentgov.pipelines.runtime import publish_table

if TYPE_CHECKING:
    from agentgov.data.contracts import SuiteResult
    from agentgov.data.validation import ValidationReport
    from agentgov.registry.manifest import Manifest


@task(name="load-manifest", cache_policy=NO_CACHE)
def load_agent_manifest(agent: str) -> Manifest:
    from agentgov.data.datasets import manifest_file
    from agentgov.registry.manifest import load_manifest

    return load_manifest(manifest_file(Path(agent)))


@task(name="validate-dataset", task_run_name="validate {dataset}", cache_policy=NO_CACHE)
def validate_dataset(agent: str, dataset: str, suite: str) -> SuiteResult:
    from agentgov.data.contracts import validate_file

    agent_dir = Path(agent).resolve()
    return validate_file(agent_dir / dataset, agent_dir / suite, dataset=dataset, suite=suite)


def _run_name() -> str:
    from prefect.runtime import flow_run

    from agentgov.pipelines.register_agent import agent_name

    agent = str(flow_run.parameters.get("agent", "."))
    return f"validate {agent_name(agent) or agent}"


@flow(name="validate-data", flow_run_name=_run_name)
def validate_data(agent: str = ".", datasets: list[str] | None = None) -> ValidationReport:
    """Validate the datasets of the agent in folder ``agent`` (those named, else every one with a suite)."""
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.types import utcnow
    from agentgov.data.validation import ValidationReport, selected, write_report

    manifest = load_agent_manifest(agent)
    chosen = selected(manifest, datasets or ())
    results = tuple(validate_dataset(agent, path, suite) for path, suite in chosen)
    report = write_report(
        ValidationReport(manifest.name, results, utcnow().isoformat()), Home(load_config().home).reports / "validation" / manifest.name
    )
    publish_table(
        f"validate-{manifest.name}",
        f"Data validation of {manifest.name}: {'passed' if report.passed else 'FAILED'}",
        ("Dataset", "Suite", "Result", "Rows", "Failed expectations"),
        [
            (
                r.dataset,
                suite,
                "passed" if r.passed else (f"error: {r.error}" if r.error else "failed"),
                r.rows,
                "; ".join(f"{f.column or 'table'}: {f.expectation}" for f in r.failed) or "-",
            )
            for r, (_, suite) in zip(results, chosen, strict=True)
        ],
        description=f"report: {report.html_path}",
    )
    return report
