"""User text that agentgov writes outside the audit log is masked as the audit log masks it.

Override reasons become Prefect flow-run parameters and artifacts; approval
comments become MLflow tags. None may carry a credential or personal data.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from agentgov.core.config import Config
from agentgov.registry.backend import connect

from .conftest import one_run

Run = Callable[..., subprocess.CompletedProcess[str]]
EMAIL = "bob.on-call@example.com"
TOKEN = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"


def _flow_run_parameters(config: Config, name: str) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from agentgov.pipelines.runtime import prefect_api, using_api

    with prefect_api(config) as api, using_api(config, api.url), get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        return dict(run.parameters)


def test_override_reasons_reach_prefect_masked(agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run) -> None:
    assert run_cli("register", str(agent_dir)).returncode == 0
    reason = f"sev1 INC-7, paged {EMAIL} with {TOKEN}"

    promoted = run_cli("promote", agent_name, "1", "--to", "shadow", "--override", f"change-freeze={reason}")

    assert promoted.returncode == 0, promoted.stderr
    parameters = _flow_run_parameters(agentgov_config, f"promote {agent_name}/1 to shadow")
    written = str(parameters) + str(one_run(agentgov_config, f"promote {agent_name}/1 to shadow").artifacts)
    assert "sev1 INC-7" in str(parameters["overrides"])
    assert EMAIL not in written and TOKEN not in written


def test_approval_comments_reach_mlflow_masked(agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run) -> None:
    assert run_cli("register", str(agent_dir)).returncode == 0

    approved = run_cli(
        "approve", agent_name, "1", "--stage", "shadow", "--comment", f"looks fine; questions to {EMAIL}", env={"AGENTGOV_USER": "dana"}
    )

    assert approved.returncode == 0, approved.stderr
    tags = connect(agentgov_config).get_model_version(agent_name, "1").tags
    [tag] = [v for k, v in tags.items() if k.startswith("agentgov.approval.shadow.")]
    assert "looks fine; questions to" in tag and EMAIL not in tag
