"""User text that agentgov writes outside the audit log is masked as the audit log masks it.

Override reasons become Prefect flow-run parameters and artifacts; approval
comments become MLflow tags. None may carry a credential or personal data.
The commands run in the default mode, through the home's control plane, whose
Prefect server records the runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.registry.backend import connect

from .conftest import one_run

pytestmark = pytest.mark.usefixtures("default_mode")

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


def test_a_description_reaches_mlflow_masked_and_a_credential_is_refused(
    agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    manifest = agent_dir / "agent.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("description: ", f"description: Questions to {EMAIL}. ", 1))

    assert run_cli("register", str(agent_dir)).returncode == 0
    client = connect(agentgov_config)
    stored = [client.get_registered_model(agent_name).description, client.get_model_version(agent_name, "1").description,
              client.get_model_version(agent_name, "1").tags["agentgov.manifest"]]
    assert all("Questions to" in s and EMAIL not in s for s in stored), stored

    manifest.write_text(text.replace("description: ", f"description: admin key {TOKEN} ", 1))
    refused = run_cli("register", str(agent_dir))
    errors = [line for line in refused.stderr.splitlines() if line.startswith("agentgov: error:")]
    assert refused.returncode == 2 and len(errors) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "line 2: description: looks like a credential (api-key)" in errors[0] and TOKEN not in refused.stderr
    assert [int(v.version) for v in client.search_model_versions(f"name='{agent_name}'")] == [1]
