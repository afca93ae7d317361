"""The home folder: where an embedded agentgov keeps all of its state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentgov.core.audit import AuditLog
from agentgov.core.masking import Masker

if TYPE_CHECKING:
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager


@dataclass(frozen=True)
class Home:
    """Paths inside the home folder (``.agentgov/`` or ``$AGENTGOV_HOME``)."""

    root: Path
    # None: the built-in mask patterns (agentgov.core.masking.build_masker adds configured and plugin ones)
    masker: Masker | None = field(default=None, compare=False, repr=False)

    @classmethod
    def configured(cls, config: Config, plugins: PluginManager) -> Home:
        """The home ``config`` names, whose audit log masks with the configured and plugin patterns."""
        from agentgov.core.masking import build_masker

        return cls(config.home, masker=build_masker(config, plugins))

    @property
    def audit_log(self) -> AuditLog:
        return AuditLog(self.root / "audit" / "audit.jsonl", masker=self.masker)

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def exists(self) -> bool:
        return self.root.is_dir()

    def create(self) -> list[Path]:
        """Create the folders that are missing; return the ones created."""
        created = []
        for folder in (self.root, self.root / "audit", self.artifacts, self.reports, self.logs):
            if not folder.is_dir():
                folder.mkdir(parents=True)
                created.append(folder)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            # The home is generated state: keep it out of the user's repository.
            ignore.write_text("*\n", encoding="utf-8")
        return created
