"""What a drift report is: the request an evaluator renders it for, and the files it hands back.

Plain frozen values; the rendering itself belongs to an evaluator plugin (the
built-in ``evidently-drift`` renders Evidently's HTML report and snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReportRequest:
    """One check's report to render: whose, when, and what the verdict was.

    ``stamp`` names the files of this check (``20261124T120000123456Z``);
    ``title`` and ``verdict`` are for the report's heading; ``options`` are the
    caller's settings for the renderer (``sample_rows`` for Evidently).
    """

    home: Path
    agent: str
    version: int
    stamp: str
    title: str
    verdict: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftReport:
    """A rendered report: the page people open, a machine-readable snapshot, and how it was made.

    ``note`` is shown with the verdict (on how many rows the report was drawn,
    say); ``workspace_project`` and ``workspace_snapshot`` name the report in a
    dashboard the evaluator keeps, if it keeps one.
    """

    html: Path
    snapshot: Path | None
    reference_rows: int
    current_rows: int
    sampled: bool = False
    note: str = ""
    workspace_project: str | None = None
    workspace_snapshot: str | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        """The files to keep with the verdict (logged as artifacts of the version's MLflow run)."""
        return (self.html,) if self.snapshot is None else (self.html, self.snapshot)

    def to_dict(self) -> dict[str, Any]:
        return {
            "html": str(self.html),
            "snapshot": None if self.snapshot is None else str(self.snapshot),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "sampled": self.sampled,
            "note": self.note,
            "workspace_project": self.workspace_project,
            "workspace_snapshot": self.workspace_snapshot,
        }
