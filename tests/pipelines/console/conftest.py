"""One home per module with a real registry (MLflow on sqlite): an agent whose description is hostile markup,
moved through real gates: a canary decision waiting for review (drift too thin to judge), a blocked
production promotion (no approval yet), then an approval and an allowed one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

HOSTILE = (
    "<script>alert('x')</script> [bold]not bold[/bold] <b>not bold either</b> يوجّه التذاكر Zürich " + "unbroken" * 40
)
POLICIES = """\
[stages.canary.policies.drift-within-limits]
mode = "enforce"

[stages.production.policies.human-approval]
mode = "enforce"
"""


@dataclass(frozen=True)
class ConsoleHome:
    root: Path
    environ: dict[str, str]
    sources: Any  # agentgov.pipelines.console.queries.Sources
    name: str
    version: int
    waiting: Any  # the canary Decision (needs-review)
    blocked: Any  # the first production Decision
    allowed: Any  # the production Decision after the approval


@pytest.fixture(scope="module")
def console_home(tmp_path_factory: pytest.TempPathFactory) -> ConsoleHome:
    from agentgov.core.types import Decision, Stage
    from agentgov.pipelines.console.queries import Sources
    from agentgov.pipelines.promotion import PromotionBlocked, promote
    from agentgov.pipelines.registration import register
    from agentgov.policies.approvals import approve
    from agentgov.registry.model import TAG_DRIFT
    from tests.conftest import example_project

    project = example_project(tmp_path_factory.mktemp("console"), "console", "alice", settings=POLICIES)
    root, home, environ, config, plugins = project.root, project.home, project.environ, project.config, project.plugins
    agent_dir = project.agent_dir
    audit = home.audit_log
    sources = Sources(config, plugins, audit)
    version = register(agent_dir, config=config, audit=audit, plugins=plugins, actor="alice")
    sources.client.update_registered_model(version.name, description=HOSTILE)
    thin = {"status": "insufficient-data", "current_rows": 3, "message": "3 rows; 50 needed", "columns": []}
    sources.client.set_model_version_tag(version.name, str(version.version), TAG_DRIFT, json.dumps(thin))

    with pytest.raises(PromotionBlocked):
        promote(config, version.ref, Stage.CANARY, actor="alice", audit=audit, plugins=plugins)
    with pytest.raises(PromotionBlocked):
        promote(config, version.ref, Stage.PRODUCTION, actor="alice", audit=audit, plugins=plugins)
    approve(
        config, version.ref, Stage.PRODUCTION, approver="bob", comment="looked at <it>", audit=audit, plugins=plugins
    )
    _, allowed = promote(config, version.ref, Stage.PRODUCTION, actor="alice", audit=audit, plugins=plugins)
    decisions = [r.payload for r in audit.records(subject_prefix=version.name) if r.action == "decision"]
    assert [(d["target"], d["outcome"]) for d in decisions] == [
        ("canary", "needs-review"),
        ("production", "blocked"),
        ("production", "allowed"),
    ]
    waiting, blocked, _ = (Decision.from_dict(d) for d in decisions)
    return ConsoleHome(root, environ, sources, version.name, version.version, waiting, blocked, allowed)


def clone_candidate(home: ConsoleHome) -> int:
    """A new candidate version of the agent: its first version's model registered again (nothing logged twice)."""
    client = home.sources.client
    original = client.get_model_version(home.name, str(home.version))
    tags = {k: v for k, v in original.tags.items() if not k.startswith(("agentgov.decision.", "agentgov.gate."))}
    tags["agentgov.stage"] = "candidate"
    created = client.create_model_version(
        home.name, source=original.source, run_id=original.run_id, tags=tags, model_id=original.model_id
    )
    return int(created.version)


DRIFT_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _calls(home: ConsoleHome, *, amount_mean: float, seed: int, end: datetime) -> None:
    import numpy as np

    from agentgov.evals.inference_log import InferenceRecord, append

    rng = np.random.default_rng(seed)
    append(
        home.sources.config.home,
        [
            InferenceRecord(
                time=end - timedelta(hours=23) + timedelta(seconds=i * 60),
                agent=home.name,
                version=home.version,
                stage="production",
                request_id=f"{seed}-{i}",
                request={"amount": float(rng.normal(amount_mean, 10)), "items": float(rng.integers(1, 5))},
                response={"action": "reply", "confidence": 0.9},
            )
            for i in range(120)
        ],
    )


def run_drift_checks(console_home: ConsoleHome) -> list[Any]:
    """Two real drift checks (evidently-drift, the default) against one reference file: a day like the
    reference, then a day whose amounts moved; recorded in the home's audit log like `agentgov drift`'s."""
    import numpy as np
    import pandas as pd

    from agentgov.pipelines.drift import check_drift

    rng = np.random.default_rng(1)
    reference = console_home.root / "reference.csv"
    pd.DataFrame({"amount": rng.normal(100, 10, 120), "items": rng.integers(1, 5, 120).astype(float)}).to_csv(
        reference, index=False
    )
    src = console_home.sources
    checks = []
    for day, mean in ((DRIFT_NOW - timedelta(days=1), 100.0), (DRIFT_NOW, 160.0)):
        _calls(console_home, amount_mean=mean, seed=int(mean), end=day)
        checks.append(
            check_drift(
                src.config,
                src.plugins,
                console_home.name,
                version=console_home.version,
                reference=str(reference),
                now=day,
                audit=src.audit,
                actor="alice",
                sample_rows=120,
            )
        )
    return checks
