"""``agentgov build``, ``serve``, ``deploy`` and ``undeploy`` as people run them: the real command, in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

# One registered agent, its bento and a server (session fixtures in tests/conftest.py) serve every module that
# uses them: they run on one pytest-xdist worker, so those are set up once, not once per worker.

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def in_served_home(served_agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a user whose home holds the served agent (commands run through its control plane)."""
    monkeypatch.chdir(tmp_path)
    env = {"AGENTGOV_HOME": str(served_agent.config.home), "AGENTGOV_USER": "test-user"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_build_prints_the_bento_and_json_gives_its_tag_and_hash(
    served_agent, served_bento, in_served_home, run_cli: Run
) -> None:
    done = run_cli("build", f"{served_agent.name}@production", "--json", check=True)
    built = json.loads(done.stdout)
    assert (built["version"], built["tag"], built["sha256"], built["reused"]) == (
        served_agent.version,
        served_bento.artifact.tag,
        served_bento.artifact.sha256,
        True,
    )
    assert done.stderr == ""  # --json: no status lines
    said = run_cli("build", served_agent.name, str(served_agent.version), check=True)
    assert said.stdout.startswith(
        f"Bento {served_bento.artifact.tag} of {served_agent.name}/{served_agent.version} found, already built"
    )
    assert "agentgov: building the bento of" in said.stderr


def test_serve_answers_on_loopback_until_ctrl_c(served_agent, served_bento, in_served_home) -> None:
    from agentgov.deploy import process
    from agentgov.pipelines.runtime import free_port

    port = free_port()
    command = [
        shutil.which("agentgov", path=str(Path(sys.executable).parent)),
        "serve",
        f"{served_agent.name}/{served_agent.version}",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(
        command, env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_until_ready(
            f"{url}/readyz", running=lambda: server.poll() is None, timeout=120, what="agentgov serve"
        )
        with urllib.request.urlopen(f"{url}/info", timeout=10) as response:
            assert json.loads(response.read())["bento"] == served_bento.artifact.tag
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's process group
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.returncode == 0, output
    assert f"Serving {served_agent.name}/{served_agent.version} (bento {served_bento.artifact.tag}) on {url}" in output
    assert "Traceback" not in output
    deadline = time.monotonic() + 10
    while process.get_status(f"{url}/livez") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.get_status(f"{url}/livez") is None  # nothing left listening


def test_deploy_to_kubernetes_and_undeploy_in_json(
    served_agent, served_bento, in_served_home, run_cli: Run, tmp_path: Path
) -> None:
    out = tmp_path / "k8s"
    done = json.loads(
        run_cli(
            "deploy",
            served_agent.name,
            str(served_agent.version),
            "--target",
            "kubernetes",
            "--output",
            str(out),
            "--json",
            check=True,
        ).stdout
    )
    assert (done["status"], done["artifact"], done["bento_sha256"]) == (
        "written",
        served_bento.artifact.tag,
        served_bento.artifact.sha256,
    )
    assert sorted(Path(f).name for f in done["files"]) == ["deployment.yaml", "service.yaml"]
    gone = json.loads(
        run_cli(
            "undeploy", served_agent.name, "--target", "kubernetes", "--output", str(out), "--json", check=True
        ).stdout
    )
    assert (gone["status"], gone["version"]) == ("stopped", served_agent.version)
    nothing = json.loads(run_cli("undeploy", served_agent.name, "--json", check=True).stdout)
    assert nothing["status"] == "not-deployed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("build", "no-such-agent", "1"), "no-such-agent"),
        (
            ("deploy", "{name}", "1", "--target", "nope"),
            "unknown deploy target 'nope': expected one of bentoml-local, kubernetes",
        ),
        (("serve", "{name}/1", "2"), "names a version or stage already"),
        (("undeploy", "Not_A_Name"), "invalid agent name 'Not_A_Name'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    served_agent, in_served_home, run_cli: Run, args: tuple[str, ...], message: str
) -> None:
    done = run_cli(*(a.format(name=served_agent.name) for a in args))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentgov: error: ") and message in lines[0], done.stderr


def test_help_imports_no_bentoml() -> None:
    probe = "import sys\nfrom agentgov.cli.main import main\ntry:\n    main(['deploy', '--help'])\nexcept SystemExit:\n    pass\nprint('bentoml' in sys.modules, 'kubernetes' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False False"


def test_a_port_in_use_is_one_line_before_anything_is_built(served_agent, in_served_home, run_cli: Run) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for command in (
            ("serve", served_agent.name, "1", "--port", port),
            ("deploy", served_agent.name, "1", "--port", port),
        ):
            done = run_cli(*command)
            assert (
                done.returncode == 2
                and done.stderr == f"agentgov: error: port {port} on 127.0.0.1 is in use: choose another with --port\n"
            )
