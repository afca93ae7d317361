"""Packaging an agent: the probe runs it in a process of its own, under a time limit, with its output kept aside;
code that leads out of the agent folder is refused; a registration that fails leaves nothing in MLflow."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.pipelines.registration import register
from agentgov.registry.errors import RegistrationFailed
from agentgov.registry.manifest import load_manifest
from agentgov.registry.packaging import code_files, probe
from agentgov.registry.register import Attachment
from agentgov.registry.register import register as record_version

Run = Callable[..., subprocess.CompletedProcess[str]]
EXAMPLE = {"subject": "Charged twice", "body": "please refund me"}


def agent_file(folder: Path, act_body: str, *, top: str = "") -> None:
    """``router.py`` in ``folder`` with a SupportRouter whose act() runs ``act_body``."""
    source = f"import os, sys, time\n{top}\nclass SupportRouter:\n    def act(self, request):\n" + textwrap.indent(textwrap.dedent(act_body), " " * 8)
    (folder / "router.py").write_text(source)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").is_file() or Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


# The probe (issue 12, item 8, and the agent's part of item 5).


def test_the_probe_runs_the_agent_in_another_process_and_returns_its_answer(tmp_path: Path) -> None:
    agent_file(tmp_path, "print('thinking'); return {'pid': os.getpid(), 'path0': sys.path[0]}")
    response = probe(tmp_path, "router.py", "SupportRouter", EXAMPLE)
    assert response["pid"] != os.getpid() and response["path0"] == str(tmp_path)


def test_an_agent_that_sleeps_past_the_limit_is_stopped_at_the_limit(tmp_path: Path) -> None:
    agent_file(tmp_path, f"open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid())); print('still working'); sys.stdout.flush(); time.sleep(60)\nreturn {{}}")
    started = time.monotonic()
    with pytest.raises(RegistrationFailed) as caught:
        probe(tmp_path, "router.py", "SupportRouter", EXAMPLE, agent="slow-agent", timeout=2)
    assert time.monotonic() - started < 6
    assert str(caught.value) == (
        "agent slow-agent, entrypoint router.py:SupportRouter: the probe (import, build, act(example_request)) did not finish "
        "within 2 s and was stopped (its last output: 'still working'); make it faster, or raise $AGENTGOV_PROBE_TIMEOUT_S"
    )
    assert not _alive(int((tmp_path / "pid").read_text()))  # killed, not left sleeping


@pytest.mark.parametrize(
    ("act", "top", "message"),
    [
        ("sys.exit(0)", "", "act(example_request) called sys.exit(0)"),
        ("raise SystemExit", "", "act(example_request) called sys.exit()"),
        ("return {}", "sys.exit(3)", "router.py called sys.exit(3) while it was imported"),
        ("print('bye', flush=True); os._exit(0)", "", "the agent's process exited with code 0 (os._exit?) before act(example_request) returned (its last output: 'bye')"),
        ("os.kill(os.getpid(), 9)", "", "the agent's process was killed by signal 9 before act(example_request) returned"),
        ("return {'when': object()}", "", "act() must return a dict of JSON values: Object of type object is not JSON serializable"),
        ("return {'a': 1}", "raise RuntimeError('no licence')", "router.py failed to import: RuntimeError: no licence"),
    ],
    ids=["sys.exit(0)", "SystemExit", "exit at import", "os._exit(0)", "killed", "not JSON", "import error"],
)
def test_an_agent_that_exits_or_dies_is_a_named_failure(tmp_path: Path, act: str, top: str, message: str) -> None:
    agent_file(tmp_path, act, top=top)
    with pytest.raises(RegistrationFailed) as caught:
        probe(tmp_path, "router.py", "SupportRouter", EXAMPLE)
    assert str(caught.value) == f"entrypoint router.py:SupportRouter: {message}"


def test_a_time_limit_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentgov.core.errors import ConfigError

    agent_file(tmp_path, "time.sleep(30)\nreturn {}")
    monkeypatch.setenv("AGENTGOV_PROBE_TIMEOUT_S", "1.5")
    with pytest.raises(RegistrationFailed, match=r"did not finish within 1\.5 s"):
        probe(tmp_path, "router.py", "SupportRouter", EXAMPLE)
    monkeypatch.setenv("AGENTGOV_PROBE_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match=r"\$AGENTGOV_PROBE_TIMEOUT_S='soon': expected a number of seconds above 0"):
        probe(tmp_path, "router.py", "SupportRouter", EXAMPLE)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_slow_agent_registers_nothing_and_fails_within_about_the_limit(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str,
    mlflow_client: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent_file(agent_dir, "time.sleep(60)\nreturn {}")
    monkeypatch.setenv("AGENTGOV_PROBE_TIMEOUT_S", "2")
    started = time.monotonic()
    with pytest.raises(RegistrationFailed, match=f"agent {agent_name}, entrypoint router.py:SupportRouter: .* within 2 s"):
        register(agent_dir, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    assert time.monotonic() - started < 10  # it was 60 s and a success before
    assert mlflow_client.search_registered_models(f"name = '{agent_name}'") == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_agent_that_prints_10_mb_leaves_register_json_valid(
    registry_config: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    agent_file(
        agent_dir,
        "print('x' * (10 << 20)); print('e' * (1 << 20), file=sys.stderr)\nreturn {'action': 'refund', 'confidence': 0.9}",
        top="print('loading the router')",
    )
    result = run_cli("register", str(agent_dir), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["name"] == agent_name
    assert result.stderr == ""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_agent_that_calls_sys_exit_fails_register_and_registers_nothing(
    registry_config: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    agent_file(agent_dir, "sys.exit(0)")
    result = run_cli("register", str(agent_dir), "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"agentgov: error: agent {agent_name}, entrypoint router.py:SupportRouter: act(example_request) called sys.exit(0)\n"
    assert json.loads(run_cli("agents", "--json", check=True).stdout) == []


# Code that leads out of the agent folder (issue 12, item 7).


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    (folder / "helpers").mkdir(parents=True)
    (folder / "creds.txt").write_text("password=hunter2\n")
    (folder / "helpers" / "__init__.py").write_text("")
    (folder / "helpers" / "creds.txt").write_text("password=hunter2\n")
    (folder / "util.py").write_text("X = 1\n")
    return folder


def _refused(agent_dir: Path) -> str:
    with pytest.raises(RegistrationFailed) as caught:
        code_files(agent_dir, set())
    return str(caught.value)


def test_a_package_linked_out_of_the_folder_is_refused(agent_dir: Path, outside: Path) -> None:
    (agent_dir / "helpers").symlink_to(outside / "helpers", target_is_directory=True)
    assert _refused(agent_dir) == (
        f"code: helpers leads out of the agent folder through a symbolic link (to {outside / 'helpers'}); "
        f"copy it into {agent_dir} or remove the link"
    )


def test_a_module_linked_out_of_the_folder_is_refused(agent_dir: Path, outside: Path) -> None:
    (agent_dir / "util.py").symlink_to(outside / "util.py")
    assert _refused(agent_dir).startswith(f"code: util.py leads out of the agent folder through a symbolic link (to {outside / 'util.py'})")


def test_a_link_out_inside_a_package_is_refused(agent_dir: Path, outside: Path) -> None:
    (agent_dir / "pkg" / "data").mkdir(parents=True)
    (agent_dir / "pkg" / "__init__.py").write_text("")
    (agent_dir / "pkg" / "data" / "creds.txt").symlink_to(outside / "creds.txt")
    assert _refused(agent_dir).startswith("code: pkg/data/creds.txt leads out of the agent folder through a symbolic link")
    (agent_dir / "pkg" / "data" / "creds.txt").unlink()
    (agent_dir / "pkg" / "loop").symlink_to(agent_dir / "pkg", target_is_directory=True)
    assert _refused(agent_dir) == "code: pkg/loop is a symbolic link to a folder that holds it; MLflow would copy it forever: remove the link"


def test_links_inside_the_folder_are_packaged(agent_dir: Path) -> None:
    (agent_dir / "shared").mkdir()
    (agent_dir / "shared" / "rules.py").write_text("RULES = ()\n")
    (agent_dir / "rules.py").symlink_to(agent_dir / "shared" / "rules.py")
    assert agent_dir / "rules.py" in code_files(agent_dir, set())


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_registration_with_a_package_linked_out_copies_nothing(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str,
    outside: Path, mlflow_client: object,
) -> None:
    (agent_dir / "helpers").symlink_to(outside / "helpers", target_is_directory=True)
    with pytest.raises(RegistrationFailed, match="code: helpers leads out of the agent folder"):
        register(agent_dir, config=registry_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    assert not [p for p in agentgov_home.root.rglob("*") if p.is_file() and b"hunter2" in p.read_bytes()]
    assert mlflow_client.search_registered_models(f"name = '{agent_name}'") == []


# A failed registration leaves nothing behind in MLflow (issue 12, item 6).


def leftovers(client, name: str) -> dict[str, object]:
    """What MLflow holds of ``name``: its model and versions, its registration runs not deleted, and every file of those runs and their models."""
    from mlflow.entities import ViewType

    from agentgov.registry.backend import EXPERIMENT

    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], f"tags.`agentgov.agent` = '{name}'", run_view_type=ViewType.ALL)
    files: list[str] = []
    for run in runs:
        files += [f"run:{a.path}" for a in client.list_artifacts(run.info.run_id)]
        for output in run.outputs.model_outputs if run.outputs else ():
            uri = f"{experiment.artifact_location}/models/{output.model_id}/artifacts"
            import mlflow

            files += [f"model:{output.model_id}:{a.path}" for a in mlflow.artifacts.list_artifacts(artifact_uri=uri)]
    return {
        "model": [m.name for m in client.search_registered_models(f"name = '{name}'")],
        "versions": sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'")),
        "active runs": [r.info.run_id for r in runs if r.info.lifecycle_stage == "active"],
        "files": files,
    }


def _record(config: Config, home: Home, plugins: PluginManager, agent_dir: Path, **kwargs: object):
    manifest = load_manifest(agent_dir)
    return record_version(agent_dir / "agent.yaml", manifest, config=config, audit=home.audit_log, plugins=plugins, actor="alice", **kwargs)


def test_a_registration_that_fails_in_its_run_leaves_nothing_behind(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client: object
) -> None:
    from mlflow.exceptions import MlflowException

    # A run tag's key may be at most 250 characters: MLflow refuses it once the registered model and the run exist.
    with pytest.raises(MlflowException, match="250"):
        _record(registry_config, agentgov_home, agentgov_plugins, agent_dir, lineage_tags={"agentgov.lineage." + "k" * 250: "v"})
    assert leftovers(mlflow_client, agent_name) == {"model": [], "versions": [], "active runs": [], "files": []}


def test_a_registration_that_fails_after_its_version_exists_leaves_nothing_behind(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str,
    mlflow_client: object, tmp_path: Path,
) -> None:
    report = tmp_path / "report.json"
    report.write_text("{}")
    # A version tag may be at most 100,000 characters: refused once the model is logged, its files stored and the version created.
    too_long = Attachment("reports", (report,), lambda folder: {"agentgov.report": "r" * 100_001})
    with pytest.raises(RegistrationFailed, match=f"registering {agent_name}/1 failed and the version was withdrawn"):
        _record(registry_config, agentgov_home, agentgov_plugins, agent_dir, attachments=(too_long,))
    assert leftovers(mlflow_client, agent_name) == {"model": [], "versions": [], "active runs": [], "files": []}
    if registry_config.tracking_uri.startswith("sqlite"):
        assert [p for p in (agentgov_home.root / "artifacts").rglob("*") if p.is_file()] == []

    # An agent that already has a version keeps it; only the failed attempt's run and files go.
    kept = _record(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    with pytest.raises(RegistrationFailed, match=f"registering {agent_name}/2 failed"):
        _record(registry_config, agentgov_home, agentgov_plugins, agent_dir, attachments=(too_long,))
    left = leftovers(mlflow_client, agent_name)
    assert (left["model"], left["versions"], len(left["active runs"])) == ([agent_name], [kept.version], 1)
    assert {f.split(":")[1] for f in left["files"] if f.startswith("model:")} == {kept.source.removeprefix("models:/")}
    assert [f for f in left["files"] if not f.startswith("model:")] == []
