"""Registering, promoting and rolling back real agents, on both backends."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.config import Config, load_config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef, Stage
from agentgov.pipelines.promotion import promote, rollback
from agentgov.pipelines.registration import register
from agentgov.pipelines.runtime import free_port
from agentgov.registry import load_agent
from agentgov.registry.backend import connect
from agentgov.registry.doctor import check
from agentgov.registry.errors import NotFound, RegistrationFailed, StageChangeRefused
from agentgov.registry.store import aliases, get, versions

Run = Callable[..., subprocess.CompletedProcess[str]]


def _register(config: Config, home: Home, plugins: PluginManager, agent_dir: Path, actor: str = "alice"):
    return register(agent_dir, config=config, audit=home.audit_log, plugins=plugins, actor=actor)


def _promote(config: Config, home: Home, plugins: PluginManager, name: str, version: int, stage: str):
    return promote(config, AgentRef(name, version=version), Stage.parse(stage), actor="bob", audit=home.audit_log, plugins=plugins)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_example_agent_walks_to_production_and_rolls_back_on_the_cli(
    registry_config: Config, agentgov_home: Home, agent_dir: Path, agent_name: str, run_cli: Run, default_mode: None
) -> None:
    """In the default mode, as a user runs it: the first command starts the home's control plane, the rest use it."""

    def cli(*args: str) -> dict | list:
        return json.loads(run_cli(*args, "--json", check=True).stdout)

    first = cli("register", str(agent_dir))
    assert (first["version"], first["stage"], first["status"]) == (1, "candidate", "ready")
    for stage in ("shadow", "canary", "production"):
        moved = cli("promote", agent_name, "1", "--to", stage)
        assert moved["plan"]["to"] == stage
        assert moved["decision"]["outcome"] == "allowed"
        assert moved["decision"]["results"] == []
        assert moved["decision"]["summary"].startswith(f"no policy guards {stage}: allowed")
    assert cli("register", str(agent_dir))["version"] == 2
    cli("promote", agent_name, "2", "--to", "production")
    cli("rollback", agent_name)

    listed = {v["version"]: v for v in cli("versions", agent_name)}
    assert (listed[1]["stage"], listed[1]["aliases"], listed[1]["registered_by"]) == ("production", ["production"], "test-user")
    assert (listed[2]["stage"], listed[2]["aliases"]) == ("archived", [])
    shown = cli("show", f"{agent_name}@production")
    assert shown["version"] == 1
    assert shown["manifest"]["name"] == agent_name
    assert [h["action"] for h in shown["history"] if h["action"] == "stage.change"] == ["stage.change"] * 4
    assert shown["problems"] == []
    text = run_cli("versions", agent_name, check=True)
    assert text.stderr == ""  # no library noise
    assert "previous-production" not in text.stdout and "production" in text.stdout
    assert run_cli("doctor", check=True).returncode == 0
    assert "Audit log OK" in run_cli("audit", "verify", check=True).stdout


def test_the_example_agent_walks_to_production_and_rolls_back(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client: object
) -> None:
    args = (registry_config, agentgov_home, agentgov_plugins)
    assert _register(*args, agent_dir).stage is Stage.CANDIDATE
    for stage in ("shadow", "canary", "production"):
        _promote(*args, agent_name, 1, stage)
    _register(*args, agent_dir)
    _promote(*args, agent_name, 2, "shadow")
    _promote(*args, agent_name, 2, "production")
    assert aliases(mlflow_client, agent_name) == {"production": 2, "previous-production": 1}
    stages = {v.version: v.stage for v in versions(mlflow_client, agent_name)}
    assert stages == {1: Stage.ARCHIVED, 2: Stage.PRODUCTION}

    agent = load_agent(f"{agent_name}@production", registry_config)
    assert agent.version.version == 2
    assert agent.act({"subject": "Invoice", "body": "Where is my invoice?"}) == {"action": "billing", "confidence": 0.77}

    rollback(registry_config, agent_name, actor="carol", audit=agentgov_home.audit_log, plugins=agentgov_plugins)
    assert aliases(mlflow_client, agent_name) == {"production": 1}
    assert {v.version: v.stage for v in versions(mlflow_client, agent_name)} == {1: Stage.PRODUCTION, 2: Stage.ARCHIVED}
    assert check(mlflow_client, agent_name) == []
    changes = [r for r in agentgov_home.audit_log.records() if r.action == "stage.change"]
    assert [(r.subject, r.payload["to"]) for r in changes][-1] == (f"{agent_name}/1", "production")
    assert changes[-1].payload["rollback"] is True and changes[-1].actor == "carol"
    assert [r.action for r in agentgov_home.audit_log.records()].count("event.rolled-back") == 1
    assert agentgov_home.audit_log.verify()


def test_registration_records_lineage_and_the_manifest(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str
) -> None:
    subprocess.run(["git", "init", "-q"], cwd=agent_dir, check=True)
    subprocess.run(["git", "add", "."], cwd=agent_dir, check=True)
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "agent"], cwd=agent_dir, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=agent_dir, capture_output=True, text=True, check=True).stdout.strip()
    clean = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    assert clean.lineage["git_commit"] == commit
    assert clean.lineage["git_dirty"] == "false"
    assert clean.lineage["registered_by"] == "alice"
    assert clean.lineage["version.mlflow"] == "3.17.2"
    assert len(clean.lineage["manifest_sha256"]) == 64
    assert clean.manifest["risk_tier"] == "medium"

    (agent_dir / "router.py").write_text((agent_dir / "router.py").read_text() + "\n# edited\n")
    dirty = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    assert dirty.lineage["git_dirty"] == "true"
    [event] = [r for r in agentgov_home.audit_log.records() if r.action == "event.registered" and r.subject.endswith("/2")]
    assert event.actor == "alice"


def test_agents_are_logged_from_code_never_pickled(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, tmp_path: Path
) -> None:
    import mlflow
    import yaml

    version = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{version.name}/{version.version}", dst_path=str(tmp_path / "model")))
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    assert "code/router.py" in files
    assert "artifacts/agent.yaml" in files
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["model_code_path"].endswith("pyfunc_model.py")
    assert "mlflow==3.17.2" in (local / "requirements.txt").read_text()
    assert (local / "input_example.json").is_file()
    assert "signature" in yaml.safe_load((local / "MLmodel").read_text())


def test_stages_only_move_forward_and_unknown_things_are_named(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str
) -> None:
    _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    _promote(registry_config, agentgov_home, agentgov_plugins, agent_name, 1, "canary")
    with pytest.raises(StageChangeRefused, match=f"{agent_name}/1 is in canary; it can only move forward"):
        _promote(registry_config, agentgov_home, agentgov_plugins, agent_name, 1, "shadow")
    with pytest.raises(NotFound, match=f"{agent_name}/7: not found"):
        _promote(registry_config, agentgov_home, agentgov_plugins, agent_name, 7, "shadow")
    with pytest.raises(NotFound, match="agent no-such-agent: not found"):
        versions(connect(registry_config), "no-such-agent")
    with pytest.raises(StageChangeRefused, match="no previous-production version"):
        rollback(registry_config, agent_name, actor="bob", audit=agentgov_home.audit_log, plugins=agentgov_plugins)


def test_a_failure_after_the_version_exists_withdraws_it(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client: object
) -> None:
    _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    log = agentgov_home.audit_log.path
    log.write_bytes(log.read_bytes()[:-10])  # the audit log is damaged: the registration cannot be recorded
    with pytest.raises(Exception, match="incomplete"):
        _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    usable = [v.version for v in versions(mlflow_client, agent_name) if v.usable]
    assert usable == [1]
    assert all(v.version == 1 or v.status == "failed" for v in versions(mlflow_client, agent_name))


def test_doctor_and_show_report_aliases_edited_by_hand(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client: object
) -> None:
    _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    _promote(registry_config, agentgov_home, agentgov_plugins, agent_name, 1, "production")
    assert check(mlflow_client, agent_name) == []
    mlflow_client.set_registered_model_alias(agent_name, "production", "2")  # someone in the MLflow UI
    problems = [str(f) for f in check(mlflow_client, agent_name)]
    assert f"{agent_name}/2: alias production points here but its stage tag says candidate (expected production)" in problems
    assert f"{agent_name}/1: stage tag says production but alias production points to v2" in problems
    assert get(mlflow_client, AgentRef(agent_name, stage=Stage.PRODUCTION)).version == 2


def test_an_entrypoint_that_fails_to_import_registers_nothing(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client: object
) -> None:
    (agent_dir / "router.py").write_text("import no_such_dependency\n")
    with pytest.raises(RegistrationFailed, match=r"entrypoint router.py:SupportRouter: router.py failed to import: ModuleNotFoundError"):
        _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    with pytest.raises(NotFound):
        versions(mlflow_client, agent_name)
    assert list(agentgov_home.audit_log.records()) == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_bad_input_on_the_command_line_is_one_line_and_exit_2(
    registry_config: Config, agentgov_home: Home, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    cases = {
        ("promote", agent_name, "1", "--to", "staging"): "agentgov: error: unknown stage 'staging': expected one of candidate, shadow, canary, production, archived\n",
        ("versions", "no-such-agent"): "agentgov: error: agent no-such-agent: not found\n",
        ("show", "no-such-agent/3"): "agentgov: error: no-such-agent/3: not found\n",
        ("show", "Bad_Name"): None,
    }
    for args, expected in cases.items():
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
        if expected:
            assert result.stderr == expected
    (agent_dir / "agent.yaml").write_text((agent_dir / "agent.yaml").read_text().replace("router.py:SupportRouter", "missing.py:SupportRouter"))
    result = run_cli("register", str(agent_dir))
    assert result.returncode == 2
    assert "entrypoint" in result.stderr and "missing.py" in result.stderr and "Traceback" not in result.stderr


def test_a_server_that_is_down_is_a_clear_error_and_nothing_is_written(agentgov_home: Home, agent_dir: Path, run_cli: Run) -> None:
    port = free_port()  # nothing listens there

    def state() -> list[Path]:
        # The embedded Prefect server's own state and logs record the failed flow run; nothing else may change.
        return sorted(p.relative_to(agentgov_home.root) for p in agentgov_home.root.rglob("*") if p.relative_to(agentgov_home.root).parts[0] not in ("prefect", "logs"))

    before = state()
    result = run_cli("register", str(agent_dir), env={"AGENTGOV_TRACKING_URI": f"http://127.0.0.1:{port}"})
    assert result.returncode == 2
    assert result.stderr.startswith(f"agentgov: error: the MLflow server at http://127.0.0.1:{port} is not reachable")
    assert len(result.stderr.splitlines()) == 1
    assert state() == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_connecting_leaves_the_users_mlflow_variables_alone(registry_config: Config) -> None:
    import os

    connect(registry_config)
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    assert load_config().sources["registry_uri"].startswith("default")
