"""The add-data flow tracks a dataset with real DVC, lists it in the manifest, and leaves a run in Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.data.errors import DataError
from agentgov.pipelines.add_data import add_data
from agentgov.pipelines.runtime import run_flow
from agentgov.registry.manifest import load_manifest

from .conftest import recorded_runs


def test_a_dataset_is_tracked_listed_and_recorded_and_a_wrong_role_is_the_users_error(
    agentgov_config: Config, agent_dir: Path
) -> None:
    data = agent_dir / "data"
    data.mkdir(exist_ok=True)
    (data / "tickets.csv").write_text("ticket_id,channel\n1,email\n2,chat\n")

    added = run_flow(add_data, str(data / "tickets.csv"), str(agent_dir), "reference", config=agentgov_config)

    assert (added.path, added.role, added.manifest_updated) == ("data/tickets.csv", "reference", True)
    assert (data / "tickets.csv.dvc").is_file() and added.md5 in (data / "tickets.csv.dvc").read_text()
    assert [(d.path, d.role) for d in load_manifest(agent_dir / "agent.yaml").datasets] == [("data/tickets.csv", "reference")]

    with pytest.raises(DataError, match=r"already in agent\.yaml as reference"):
        run_flow(add_data, str(data / "tickets.csv"), str(agent_dir), "eval", config=agentgov_config)

    runs = sorted(recorded_runs(agentgov_config, "add data tickets.csv"), key=lambda r: r.state)
    assert [r.state for r in runs] == ["COMPLETED", "FAILED"]
    assert runs[0].task_states("track-dataset-") == ["COMPLETED"]
    assert runs[1].task_states("track-dataset-") == ["FAILED"]  # not retried: the role is the user's to fix
    assert f"| md5 | {added.md5} |" in runs[0].artifacts[f"data-{added.agent}"]
