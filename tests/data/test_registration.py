"""Registration with datasets: refused when dirty, --allow-dirty recorded, validation attached, checkout restores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.data.checkout import checkout_version
from agentgov.data.contracts import profile, write_suite
from agentgov.data.datasets import add_dataset
from agentgov.data.errors import DirtyDatasets
from agentgov.data.versioning import open_repo
from agentgov.pipelines.registration import register
from agentgov.registry.backend import connect


@pytest.fixture
def tracked(agent: Path, agentgov_home: Home) -> Path:
    """The agent with data/eval.csv tracked by DVC, with a suite proposed from it."""
    write_suite(profile(agent / "data" / "eval.csv", "eval"), agent / "suites" / "eval.json")
    add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root, suite="suites/eval.json")
    return agent


def test_a_modified_dataset_is_refused_before_anything_exists_in_mlflow(
    tracked: Path, agent_name: str, agentgov_config: Config, agentgov_home: Home, agentgov_plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tracked / "data" / "eval.csv").open("a") as f:
        f.write("Late,edit,billing,0.5\n")
    monkeypatch.chdir(tracked)
    with pytest.raises(DirtyDatasets) as caught:
        register(tracked, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    assert str(caught.value) == (
        "data/eval.csv is modified since `agentgov data add` "
        "(run `agentgov data add data/eval.csv` to record the current data, or register with --allow-dirty)"
    )
    assert connect(agentgov_config).search_registered_models(filter_string=f"name = '{agent_name}'") == []
    assert list(agentgov_home.audit_log.records()) == []


def test_allow_dirty_registers_and_records_it_in_lineage_and_audit(
    tracked: Path, agent_name: str, agentgov_config: Config, agentgov_home: Home, agentgov_plugins
) -> None:
    (tracked / "data" / "notes.csv").write_text("a\n1\n")
    with (tracked / "agent.yaml").open("a") as f:
        f.write("  - path: data/notes.csv\n    role: reference\n")
    version = register(tracked, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice", allow_dirty=True)
    lineage = version.lineage
    assert lineage["allow_dirty"] == "true"
    assert lineage["dataset_state.data/notes.csv"] == "untracked" and lineage["dataset_state.data/eval.csv"] == "ok"
    assert lineage["dataset.data/notes.csv"] == "untracked"
    [record] = [r for r in agentgov_home.audit_log.records() if r.action == "data.allow_dirty"]
    assert record.subject == f"{agent_name}/1" and record.actor == "alice" and record.payload == {"datasets": {"data/notes.csv": "untracked"}}


def test_validation_is_attached_to_the_version_and_checkout_restores_its_exact_data(
    tracked: Path, git_repo: Path, tmp_path: Path, agent_name: str, agentgov_config: Config, agentgov_home: Home, agentgov_plugins
) -> None:
    remote = tmp_path / "remote"
    repo, _ = open_repo(tracked, agentgov_home.root, create=False)
    with repo.config.edit("repo") as config:
        config["remote"]["store"] = {"url": str(remote)}
        config["core"]["remote"] = "store"
    repo.close()
    add_dataset(tracked / "data" / "eval.csv", agent_dir=tracked, role="eval", home=agentgov_home.root)  # pushes it now
    v1_bytes = (tracked / "data" / "eval.csv").read_bytes()
    v1 = register(tracked, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")

    summary = json.loads(v1.tags["agentgov.data_validation"])
    assert summary["passed"] is True and summary["suites"]["data/eval.csv"]["passed"] is True
    assert summary["suites"]["data/eval.csv"]["evaluated"] >= 10 and summary["report"].endswith(".json")
    client = connect(agentgov_config)
    run_id = client.get_model_version(agent_name, "1").run_id
    logged = sorted(Path(a.path).suffix for a in client.list_artifacts(run_id, "data_validation"))
    assert logged == [".html", ".json"]
    assert summary["report"].split("/data_validation/")[1] in {Path(a.path).name for a in client.list_artifacts(run_id, "data_validation")}

    # Version 2: new data that breaks the contract still registers, with the failure attached.
    with (tracked / "data" / "eval.csv").open("a") as f:
        f.write("Spam,buy cheap pills now,spam,42\n")
    add_dataset(tracked / "data" / "eval.csv", agent_dir=tracked, role="eval", home=agentgov_home.root)
    v2 = register(tracked, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    failed = json.loads(v2.tags["agentgov.data_validation"])
    assert failed["passed"] is False and failed["suites"]["data/eval.csv"]["failed_expectations"] >= 2
    assert v2.lineage["dataset.data/eval.csv"] != v1.lineage["dataset.data/eval.csv"]

    # Back to version 1's data: from the cache, then (cache deleted) from the remote.
    [restored] = checkout_version(agent_name, "1", agent_dir=tracked, config=agentgov_config)
    assert (restored.outcome, restored.source) == ("restored", "cache")
    assert (tracked / "data" / "eval.csv").read_bytes() == v1_bytes
    assert (tracked / "data" / "eval.csv.dvc").read_text().count(v1.lineage["dataset.data/eval.csv"]) == 1

    [again] = checkout_version(agent_name, "2", agent_dir=tracked, config=agentgov_config)
    assert again.outcome == "restored" and (tracked / "data" / "eval.csv").read_bytes() != v1_bytes
    shutil.rmtree(agentgov_home.root / "dvc-cache")
    [from_remote] = checkout_version(agent_name, "1", agent_dir=tracked, config=agentgov_config)
    assert (from_remote.outcome, from_remote.source) == ("restored", "remote")
    assert (tracked / "data" / "eval.csv").read_bytes() == v1_bytes
