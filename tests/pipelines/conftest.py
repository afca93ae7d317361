"""Fixtures for the pipelines: a throw-away agent and a look into the Prefect API the flows used."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentgov.core.config import Config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_AGENT = REPO / "examples" / "support-router"


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    """A copy of the example agent's code and manifest with a name of its own and no datasets (tests add their own)."""
    import yaml

    target = tmp_path / "agent"
    target.mkdir()
    for file in EXAMPLE_AGENT.glob("*.py"):
        shutil.copy(file, target)
    manifest = yaml.safe_load((EXAMPLE_AGENT / "agent.yaml").read_text())
    manifest["name"] = f"router-{uuid.uuid4().hex[:8]}"
    manifest.pop("datasets", None)
    (target / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return target



@dataclass(frozen=True)
class Recorded:
    """A flow run as the Prefect API holds it."""

    name: str
    state: str
    task_runs: list[tuple[str, str]]  # (task run name, state type); names may repeat
    artifacts: dict[str, str]  # key -> markdown
    logs: list[str]

    def task_states(self, prefix: str = "") -> list[str]:
        return [state for name, state in self.task_runs if name.startswith(prefix)]


def recorded_runs(config: Config, flow_run_name: str) -> list[Recorded]:
    """Every flow run called ``flow_run_name`` in the API ``config`` points flows at (embedded: started for the look)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )

    from agentgov.pipelines.runtime import prefect_api, using_api

    found = []
    with prefect_api(config) as api, using_api(config, api.url), get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[flow_run_name]))):
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
            found.append(
                Recorded(
                    name=run.name,
                    state=run.state_type.value if run.state_type else "",
                    task_runs=sorted((t.name, t.state_type.value if t.state_type else "") for t in tasks),
                    artifacts={a.key or "": str(a.data) for a in artifacts},
                    logs=[log.message for log in logs],
                )
            )
    return found


def one_run(config: Config, flow_run_name: str) -> Recorded:
    runs = recorded_runs(config, flow_run_name)
    assert len(runs) == 1, f"expected one flow run named {flow_run_name!r}, found {[r.name for r in runs]}"
    return runs[0]
