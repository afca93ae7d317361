"""The bentoml-local target: registered through the hook, a build context named by its content, readiness that waits for the agent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agentgov.deploy import DEPLOY_TARGETS, DeployTarget, Release
from agentgov.plugins.deploy.bentoml_local import bento
from agentgov.plugins.deploy.bentoml_local.target import HOST, BentomlLocal, load_error

# One registered agent, its bento and a server (session fixtures in tests/conftest.py) serve every module that
# uses them: they run on one pytest-xdist worker, so those are set up once, not once per worker.


@pytest.fixture
def release(served_agent, tmp_path: Path) -> Release:
    """The served agent's version, downloaded afresh for this test."""
    from agentgov.core.types import AgentRef
    from agentgov.deploy.release import fetch, resolve

    version = resolve(served_agent.config, AgentRef(served_agent.name, version=served_agent.version))
    return fetch(served_agent.config, version, tmp_path / "release")


def test_the_builtin_targets_are_registered_through_the_hook(agentgov_plugins) -> None:
    found = agentgov_plugins.collect(DEPLOY_TARGETS)  # agentgov_register_deploy_targets of every plugin
    assert {name: registered.plugin for name, registered in found.items()} == {
        "bentoml-local": "bentoml-local",
        "kubernetes": "kubernetes",
    }
    assert all(isinstance(registered.item, DeployTarget) for registered in found.values())


def test_the_build_context_is_named_by_its_content(release: Release, tmp_path: Path) -> None:
    config, digest = bento.prepare(release, tmp_path / "one")
    again, same = bento.prepare(release, tmp_path / "two")
    assert digest == same and config == again
    assert config["bento"] == f"{release.name}:v{release.version}-{digest[:12]}"
    assert (tmp_path / "one" / "service.py").read_bytes() == Path(bento.__file__).with_name("service.py").read_bytes()
    assert json.loads((tmp_path / "one" / bento.CONFIG_FILE).read_text())["example_request"] == dict(
        release.example_request
    )

    code = next((release.model_dir / "code").glob("*.py"))
    code.write_text(code.read_text() + "\n# changed\n")
    _, changed = bento.prepare(release, tmp_path / "three")
    assert changed != digest


def test_the_requirements_are_the_versions_pins_and_this_agentgov() -> None:
    from agentgov.core import __version__
    from agentgov.deploy import Resources

    release = Release(
        name="a",
        version=1,
        model_dir=Path("m"),
        manifest=Path("m/artifacts/agent.yaml"),
        example_request={},
        resources=Resources(),
        requirements=("pandas==2.3.3", "agentgov==0.0.1", "mlflow==3.17.2"),
    )
    assert bento.requirements(release) == [f"agentgov=={__version__}", "mlflow==3.17.2", "pandas==2.3.3"]


def test_a_bentoml_home_inside_the_build_folder_is_refused(release: Release, tmp_path: Path) -> None:
    with pytest.raises(bento.BentoBuildFailed, match="inside the build folder"):
        bento.build(release, tmp_path / "context", tmp_path / "context")


def test_readyz_fails_and_info_says_why_while_the_agent_cannot_load(release: Release, tmp_path: Path) -> None:
    """Served from the generated source (no bento store): the server is alive, never ready, and /info names the error."""
    from agentgov.deploy import process
    from agentgov.pipelines.runtime import free_port

    context = tmp_path / "context"
    config, _ = bento.prepare(release, context)
    (context / bento.CONFIG_FILE).write_text(json.dumps({**config, "model_dir": "no-such-model"}))
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            bento_source_command(context, port),
            env=bento.bentoml_env(tmp_path / "home"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_until_ready(f"{url}/livez", running=lambda: server.poll() is None, timeout=120, log=log)
        assert process.get_status(f"{url}/readyz") == 503
        from urllib.request import urlopen

        with urlopen(f"{url}/info", timeout=10) as response:
            info = json.loads(response.read())
        assert info["ready"] is False and "no-such-model" in info["error"]
        assert "no-such-model" in (load_error(url) or "")  # what makes `agentgov deploy` fail at once
    finally:
        process.stop(server.pid, timeout=15)
        server.wait(timeout=10)


def bento_source_command(context: Path, port: int) -> list[str]:
    import sys

    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "service:AgentService",
        "--working-dir",
        str(context),
        "--host",
        HOST,
        "--port",
        str(port),
    ]


def test_the_target_builds_with_bentomls_own_build_and_reuses_the_same_content(
    served_agent, served_bento, release: Release
) -> None:
    again = BentomlLocal().build(release, served_agent.config.home)
    assert (again.tag, again.sha256, again.reused) == (served_bento.artifact.tag, served_bento.artifact.sha256, True)
    stored = bento.bento_path(served_agent.config.home, again.tag)
    assert (stored / "bento.yaml").is_file() and (stored / "src" / "service.py").is_file()
    assert stored.is_relative_to(served_agent.config.home / "bentoml")  # BentoML's store lives in the agentgov home


def test_the_manifests_gpu_request_reaches_the_bentos_service_resources(
    served_agent, served_bento, release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built with every package index and proxy pointing at a closed port: the build must not need one."""
    import dataclasses

    for name in (
        "PIP_INDEX_URL",
        "UV_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ):
        monkeypatch.setenv(name, "http://127.0.0.1:9/")

    import yaml

    from agentgov.deploy import Resources

    gpu = dataclasses.replace(release, resources=Resources(cpu=2.0, memory="4Gi", gpu=1))
    artifact = BentomlLocal().build(gpu, served_agent.config.home)
    described = yaml.safe_load((bento.bento_path(served_agent.config.home, artifact.tag) / "bento.yaml").read_text())
    assert described["services"][0]["config"]["resources"] == {"cpu": "2.0", "memory": "4Gi", "gpu": 1}
    assert (
        artifact.tag != served_bento.artifact.tag and not artifact.reused
    )  # other resources: another bento, built here
