"""Validating an agent's datasets against their suites, with a report kept in the home."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.types import utcnow
from agentgov.data.contracts import SuiteResult, validate_file
from agentgov.data.errors import DataError
from agentgov.data.reports import write_html

if TYPE_CHECKING:
    from agentgov.registry.manifest import Manifest

TAG = "agentgov.data_validation"  # the version tag the data-validation-passed policy reads


@dataclass(frozen=True)
class ValidationReport:
    """Every suite-bearing dataset of one agent, checked; where the report files are."""

    agent: str
    results: tuple[SuiteResult, ...]
    created_at: str
    json_path: Path | None = None
    html_path: Path | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "passed": self.passed,
            "created_at": self.created_at,
            "results": [r.to_dict() for r in self.results],
            "json": str(self.json_path) if self.json_path else None,
            "html": str(self.html_path) if self.html_path else None,
        }

    def summary(self, report: str | None = None) -> dict[str, Any]:
        """The compact form stored in the version tag ``agentgov.data_validation``."""
        return {
            "passed": self.passed,
            "suites": {
                r.dataset: {"passed": r.passed, "failed_expectations": len(r.failed), "evaluated": r.evaluated, **({"error": r.error} if r.error else {})}
                for r in self.results
            },
            "report": report if report is not None else str(self.json_path or ""),
        }


def selected(manifest: Manifest, names: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(dataset path, suite path) of the manifest's datasets with a suite, or of those named."""
    wanted = [n.replace("\\", "/").removeprefix("./") for n in names]
    known = {d.path: d for d in manifest.datasets}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        listed = ", ".join(known) or "none"
        raise DataError(f"{', '.join(unknown)}: not a dataset of {manifest.name} (its datasets: {listed})")
    chosen = [known[n] for n in wanted] if wanted else list(manifest.datasets)
    no_suite = [d.path for d in chosen if not d.suite and wanted]
    if no_suite:
        raise DataError(f"{', '.join(no_suite)}: no suite in the manifest", hint="add 'suite: suites/NAME.json' to the dataset in agent.yaml")
    return [(d.path, d.suite) for d in chosen if d.suite]


def validate_agent(
    agent_dir: Path,
    manifest: Manifest,
    *,
    reports: Path,
    names: Iterable[str] = (),
    keep_going: bool = False,
) -> ValidationReport:
    """Validate the agent's datasets that have suites and write the JSON and HTML report under ``reports/<agent>/``.

    With ``keep_going`` a dataset that cannot be read becomes a failed result
    carrying its error (registration wants a record, not a stop); otherwise the
    first such error is raised.
    """
    results = []
    for path, suite in selected(manifest, names):
        try:
            results.append(validate_file(agent_dir / path, agent_dir / suite, dataset=path, suite=suite))
        except DataError as exc:
            if not keep_going:
                raise
            results.append(SuiteResult(path, suite, False, 0, (), 0, 0.0, error=str(exc)))
    report = ValidationReport(manifest.name, tuple(results), utcnow().isoformat())
    return write_report(report, Path(reports) / manifest.name)


def write_report(report: ValidationReport, folder: Path) -> ValidationReport:
    """Write the JSON and HTML files of ``report`` into ``folder``; a report of nothing (no suite) is not written."""
    if not report.results:
        return report
    folder.mkdir(parents=True, exist_ok=True)
    stem = datetime.fromisoformat(report.created_at).strftime("%Y%m%dT%H%M%S%fZ")
    json_path = folder / f"validation-{stem}.json"
    html_path = folder / f"validation-{stem}.html"
    done = ValidationReport(report.agent, report.results, report.created_at, json_path, html_path)
    json_path.write_text(json.dumps(done.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    html_path.write_text(write_html(done), encoding="utf-8")
    return done
