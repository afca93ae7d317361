"""Drift reports people can open: Evidently's HTML report, its JSON snapshot, and a local Evidently workspace.

The report is rendered by Evidently's ``Report([DataDriftPreset()])`` on a
sample of at most :data:`SAMPLE_ROWS` rows per side (a seeded random sample,
so the same data gives the same report), because the preset costs about 50 s
and 1 GB per million rows; the HTML says so at its top. The verdict the gate
reads never comes from the report: it is computed on all rows by the
evaluator. Reports go to ``<home>/reports/drift/<agent>/<stamp>.{html,json}``.

The workspace in ``<home>/evidently`` holds one project per agent and one
snapshot per drift run, so ``evidently ui --workspace <home>/evidently`` (or
``agentgov drift ui``) shows drift over time.
"""

from __future__ import annotations

import contextlib
import html
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.evals import DriftReport

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 20_000
SAMPLE_SEED = 0
STAMP_PATTERN = re.compile(r"^\d{8}T\d{6}(\d{6})?Z$")


def reports_dir(home: Path, agent: str) -> Path:
    return Path(home) / "reports" / "drift" / agent


def workspace_dir(home: Path) -> Path:
    return Path(home) / "evidently"


@contextlib.contextmanager
def quiet_evidently() -> Iterator[None]:
    """Evidently's warnings, log lines and prints stay off the user's terminal."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry
    names = ("evidently", "fsspec", "litestar", "uvicorn")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def sample(frame: pd.DataFrame, rows: int = SAMPLE_ROWS, seed: int = SAMPLE_SEED) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=seed).sort_index()


def render(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    directory: Path,
    stamp: str,
    title: str,
    verdict: str,
    sample_rows: int = SAMPLE_ROWS,
) -> tuple[DriftReport, Any]:
    """Write ``<stamp>.html`` and ``<stamp>.json`` in ``directory``; the report and Evidently's snapshot."""
    ref_sample, cur_sample = sample(reference, sample_rows), sample(current, sample_rows)
    sampled = len(ref_sample) < len(reference) or len(cur_sample) < len(current)
    note = (
        f"Evidently rendered this report on {len(ref_sample):,} of {len(reference):,} reference rows and "
        f"{len(cur_sample):,} of {len(current):,} current rows (a seeded random sample of at most {sample_rows:,} "
        f"per side). The verdict ({verdict}) was computed on all rows by agentgov's exact drift engine."
    )
    with quiet_evidently():
        from evidently import Report
        from evidently.presets import DataDriftPreset

        snapshot = Report([DataDriftPreset()]).run(cur_sample, ref_sample)
        snapshot.set_name(title)
        directory.mkdir(parents=True, exist_ok=True)
        html_path, json_path = directory / f"{stamp}.html", directory / f"{stamp}.json"
        page = snapshot.get_html_str(as_iframe=False)
        json_path.write_text(snapshot.dumps(), encoding="utf-8")  # the full snapshot: Snapshot.load() reads it back
    banner = (
        '<div style="font-family:sans-serif;padding:12px;margin:8px;border:1px solid #ccc;background:#fffbe6">'
        f"<b>{html.escape(title)}</b><br>{html.escape(note)}</div>"
    )
    page = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, page, count=1) if "<body" in page else banner + page
    html_path.write_text(page, encoding="utf-8")
    report = DriftReport(html_path, json_path, len(reference), len(current), sampled, note)
    return report, snapshot


def add_to_workspace(home: Path, agent: str, snapshot: Any) -> tuple[str, str]:
    """Add the snapshot to the agent's project in the local Evidently workspace; (project id, snapshot id)."""
    with quiet_evidently():
        from evidently.ui.workspace import Workspace

        workspace = Workspace.create(str(workspace_dir(home)))
        found = [p for p in workspace.search_project(agent) if p.name == agent]
        if found:
            project = found[0]
        else:
            project = workspace.create_project(agent, description=f"Drift of agent {agent}, one run per `agentgov drift`")
            _add_drift_panel(project)
        ref = workspace.add_run(project.id, snapshot)
    return str(project.id), str(ref.id)


def _add_drift_panel(project: Any) -> None:
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    share = PanelMetric(legend="share", metric="DriftedColumnsCount", metric_labels={"value_type": "share"})
    project.dashboard.add_panel(line_plot_panel(
        title="Share of drifted columns",
        description="Evidently's figure on each report's sample; the gate's verdict is agentgov's, on all rows",
        values=[share],
    ))


def workspace_runs(home: Path, agent: str) -> list[str]:
    """The snapshot ids in the agent's workspace project (none when there is no project)."""
    if not workspace_dir(home).is_dir():
        return []
    with quiet_evidently():
        from evidently.ui.workspace import Workspace

        workspace = Workspace(str(workspace_dir(home)))
        runs: list[str] = []
        for project in workspace.search_project(agent):
            if project.name == agent:
                runs += [str(run) for run in workspace.list_runs(project.id)]
    return runs


def list_reports(home: Path, agent: str) -> list[Path]:
    """The agent's HTML reports, oldest first."""
    folder = reports_dir(home, agent)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.html") if STAMP_PATTERN.match(p.stem))
