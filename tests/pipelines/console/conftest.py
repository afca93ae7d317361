"""One home per module with a real registry (MLflow on sqlite): an agent whose description is hostile markup,
moved through real gates: a canary decision waiting for review (drift too thin to judge), a blocked
production promotion (no approval yet), then an approval and an allowed one."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLE_AGENT = REPO / "examples" / "support-router"
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
    import yaml

    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager
    from agentgov.core.types import Decision, Stage
    from agentgov.pipelines.console.queries import Sources
    from agentgov.pipelines.promotion import PromotionBlocked, promote
    from agentgov.pipelines.registration import register
    from agentgov.policies.approvals import approve
    from agentgov.registry.model import TAG_DRIFT

    root = tmp_path_factory.mktemp("console")
    agent_dir = root / "agent"
    agent_dir.mkdir()
    for file in EXAMPLE_AGENT.glob("*.py"):
        shutil.copy(file, agent_dir)
    manifest = yaml.safe_load((EXAMPLE_AGENT / "agent.yaml").read_text())
    manifest["name"] = f"console-{uuid.uuid4().hex[:8]}"
    manifest.pop("datasets", None)
    (agent_dir / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    (root / "agentgov.toml").write_text(POLICIES)
    home = Home(root / "home")
    home.create()
    environ = {"AGENTGOV_HOME": str(home.root), "AGENTGOV_USER": "alice", "AGENTGOV_NO_SERVER": "1"}
    config = load_config(start=root, environ=environ)
    plugins = PluginManager(config)
    plugins.load_builtins()
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
