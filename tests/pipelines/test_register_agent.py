"""``agentgov register`` runs the register-agent flow: quiet on the terminal, recorded in Prefect."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from agentgov.core.config import Config
from agentgov.pipelines.register_agent import agent_name as manifest_name
from agentgov.registry.backend import connect

from .conftest import one_run

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_register_on_the_cli_prints_no_library_noise_and_prefect_records_the_flow(
    agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    result = run_cli("register", str(agent_dir), "--json")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no traceback, no warning, no Prefect log line, not even at interpreter exit
    version = json.loads(result.stdout)
    assert (version["name"], version["version"], version["stage"]) == (agent_name, 1, "candidate")
    assert connect(agentgov_config).get_model_version(agent_name, "1").tags["agentgov.stage"] == "candidate"

    run = one_run(agentgov_config, f"register {agent_name}")
    assert run.state == "COMPLETED"
    for step in ("check-manifest-", "check-datasets-", "validate-data-", "package-and-register-"):  # each step once
        assert run.task_states(step) == ["COMPLETED"], (step, run.task_runs)
    summary = run.artifacts[f"register-{agent_name}"]
    assert f"{agent_name}/1 (candidate)" in summary and "| data validation | no dataset names a suite |" in summary


def test_a_bad_manifest_is_one_line_on_the_cli_and_a_failed_run_in_prefect(
    agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run
) -> None:
    manifest = agent_dir / "agent.yaml"
    manifest.write_text(manifest.read_text().replace("risk_tier: medium", "risk_tier: extreme"))

    result = run_cli("register", str(agent_dir))

    assert result.returncode == 2
    assert result.stderr.startswith("agentgov: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "risk_tier" in result.stderr and "Traceback" not in result.stderr
    run = one_run(agentgov_config, f"register {agent_name}")
    assert run.state == "FAILED"
    assert run.task_states("check-manifest-") == ["FAILED"]
    assert run.task_states("package-and-register-") == []  # a user's error is not retried, nothing is packaged


def test_the_run_is_named_after_the_agent_even_before_its_manifest_is_checked(agent_dir: Path, agent_name: str) -> None:
    assert manifest_name(str(agent_dir)) == agent_name
    assert manifest_name(str(agent_dir / "agent.yaml")) == agent_name
    assert manifest_name(str(agent_dir / "missing")) is None


HOSTILE_NAMES = ['"' + "<b>x</b>\\a\\x1b[31m" * 40 + '"', '"support-router\\nname: other"', '"' + "a" * 64 + '"', "Support_Router"]


def test_a_manifest_name_that_is_no_slug_never_names_a_run(tmp_path: Path) -> None:
    for name in HOSTILE_NAMES:
        (tmp_path / "agent.yaml").write_text(f"name: {name}\nrisk_tier: low\n")
        assert manifest_name(str(tmp_path)) is None, name
    (tmp_path / "agent.yaml").write_text("name: &n [" + ", ".join(["x"] * 20_000) + "]\n")
    assert manifest_name(str(tmp_path)) is None


def test_a_hostile_name_gives_the_run_a_neutral_name_after_the_folder(agentgov_config: Config, tmp_path: Path, run_cli: Run) -> None:
    folder = tmp_path / "my agent <b>"
    folder.mkdir()
    (folder / "agent.yaml").write_text(f"name: {HOSTILE_NAMES[0]}\nrisk_tier: low\n")

    result = run_cli("register", str(folder))

    assert result.returncode == 2 and "name: expected a DNS-safe name" in result.stderr
    run = one_run(agentgov_config, "register my-agent--b")
    assert run.state == "FAILED"


def test_a_registration_killed_mid_flow_is_marked_crashed_by_the_next_command(
    agentgov_config: Config, agent_dir: Path, agent_name: str, run_cli: Run, tmp_path: Path
) -> None:
    import os
    import signal
    import sys
    import time

    from tests.conftest import agentgov_executable

    from .conftest import recorded_runs

    router = (agent_dir / "router.py").read_text()
    marker = tmp_path / "probing"
    (agent_dir / "router.py").write_text(
        "import os, time\n"
        "class SupportRouter:\n"
        "    def act(self, request):\n"
        f"        open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
        "        time.sleep(600)\n"
    )
    env = {**os.environ, "AGENTGOV_PROBE_TIMEOUT_S": "600"}
    command = subprocess.Popen([agentgov_executable(), "register", str(agent_dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() or not marker.read_text():
            assert command.poll() is None, f"agentgov register exited with {command.returncode} before the probe"
            assert time.monotonic() < deadline, "the probe never started"
            time.sleep(0.1)
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait()
    if sys.platform.startswith("linux"):  # the agent's process goes with agentgov
        probe = int(marker.read_text())
        deadline = time.monotonic() + 10
        while Path(f"/proc/{probe}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{probe}").exists()
    assert [r.state for r in recorded_runs(agentgov_config, f"register {agent_name}")] == ["RUNNING"]

    (agent_dir / "router.py").write_text(router)
    assert run_cli("register", str(agent_dir), "--json").returncode == 0

    runs = recorded_runs(agentgov_config, f"register {agent_name}")
    assert sorted(r.state for r in runs) == ["COMPLETED", "CRASHED"]
