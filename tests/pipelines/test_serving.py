"""A registered version as a bento: built by BentoML, served by `bentoml serve` on loopback, deployed and undeployed."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from agentgov.core.home import Home
from agentgov.core.types import AgentRef
from agentgov.deploy import Deployment
from agentgov.pipelines import serving

# One registered agent, its bento and a server (session fixtures in tests/conftest.py) serve every module that
# uses them: they run on one pytest-xdist worker, so those are set up once, not once per worker.

REQUESTS = [
    {"subject": "Charged twice", "body": "I was charged twice for my subscription, please refund me."},
    {"subject": "App crashes", "body": "The app crashes with an error when I log in."},
    {"subject": "Hello", "body": "Just wanted to say thanks."},
]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def test_the_served_bento_answers_over_http_exactly_as_the_agent_in_process(served_agent, bento_server: str) -> None:
    import bentoml

    from agentgov.registry import load_agent

    agent = load_agent(f"{served_agent.name}/{served_agent.version}", served_agent.config)
    with bentoml.SyncHTTPClient(bento_server, server_ready_timeout=30) as client:
        for request in REQUESTS:
            assert client.act(request) == agent.act(request)


def test_health_readiness_metrics_and_info_answer(served_agent, served_bento, bento_server: str) -> None:
    from agentgov.deploy import choose_device

    for path in ("/livez", "/healthz", "/readyz"):
        assert _get(bento_server + path)[0] == 200, path
    status, metrics = _get(bento_server + "/metrics")
    assert status == 200 and b"bentoml_service_request" in metrics
    info = json.loads(_get(bento_server + "/info")[1])
    here = choose_device()  # the server decides as this process does: same machine, same environment
    assert info["name"] == served_agent.name and info["version"] == served_agent.version
    assert (info["device"], info["device_reason"]) == (here.name, here.reason)
    assert info["ready"] is True and info["error"] is None
    assert (info["bento"], info["sha256"]) == (served_bento.artifact.tag, served_bento.artifact.sha256)


def test_the_bento_holds_the_model_from_code_the_manifest_and_the_pins_and_no_pickle(
    served_agent, served_bento
) -> None:
    import yaml

    from agentgov.plugins.deploy.bentoml_local.bento import bento_path

    folder = bento_path(served_agent.config.home, served_bento.artifact.tag)
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert (folder / "src" / "model" / "MLmodel").is_file()
    assert (folder / "src" / "model" / "code" / "router.py").is_file()
    assert (folder / "src" / "model" / "artifacts" / "agent.yaml").read_text() == (
        served_agent.agent_dir / "agent.yaml"
    ).read_text()
    pickles = [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib") or p.read_bytes()[:1] == b"\x80"]
    assert pickles == []
    pins = (folder / "env" / "python" / "requirements.txt").read_text().split()
    assert {"mlflow==3.17.2", "agentgov==0.1.0"} <= set(pins) and any(p.startswith("pandas==") for p in pins)
    described = yaml.safe_load((folder / "bento.yaml").read_text())
    assert described["services"][0]["config"]["resources"] == {"cpu": "0.5", "memory": "512Mi"}
    assert described["labels"]["agentgov.sha256"] == served_bento.artifact.sha256


def test_the_bento_is_recorded_in_the_versions_bill_of_materials(served_agent, served_bento) -> None:
    from agentgov.registry import bom
    from agentgov.registry.backend import connect
    from agentgov.registry.store import get

    client = connect(served_agent.config)
    bill = bom.read(client, get(client, AgentRef(served_agent.name, version=served_agent.version)))
    assert bill.data["bento"] == {"tag": served_bento.artifact.tag, "sha256": served_bento.artifact.sha256}
    assert ("bento", "sha256", served_bento.artifact.sha256) in {(i.section, i.name, i.value) for i in bill.items()}


def test_a_stage_is_resolved_once_to_its_number_and_the_same_content_is_the_same_bento(
    served_agent, served_bento
) -> None:
    again = serving.build(served_agent.config, served_agent.plugins, AgentRef(served_agent.name, stage="production"))
    assert again.version.version == served_agent.version
    assert (
        again.artifact.tag
        == served_bento.artifact.tag
        == f"{served_agent.name}:v{served_agent.version}-{served_bento.artifact.sha256[:12]}"
    )
    assert again.artifact.reused


def test_deploy_starts_a_managed_loopback_server_and_undeploy_stops_it(served_agent, served_bento) -> None:
    from agentgov.deploy import process, records

    config, plugins, name = served_agent.config, served_agent.plugins, served_agent.name
    lines: list[str] = []
    audit = Home(config.home).audit_log
    built, done = serving.deploy(
        config, plugins, AgentRef(name, version=served_agent.version), progress=lines.append, audit=audit, actor="alice"
    )
    try:
        assert isinstance(done, Deployment) and done.status == "running" and done.url.startswith("http://127.0.0.1:")
        assert built.artifact.tag == served_bento.artifact.tag
        assert json.loads(_get(done.url + "/info")[1])["version"] == served_agent.version
        record = records.read(config.home, name, "bentoml-local")
        assert record is not None and record.pid == done.pid and record.running and Path(record.log).is_file()
        assert any("waiting for" in line for line in lines)
        _, again = serving.deploy(config, plugins, AgentRef(name, version=served_agent.version))
        assert (again.pid, again.note) == (done.pid, "already running")
    finally:
        stopped = serving.undeploy(config, plugins, name, audit=audit, actor="alice")
    assert stopped is not None and stopped.status == "stopped"
    deployed, undeployed = [r for r in audit.records() if r.action in ("deploy", "undeploy")][-2:]
    assert (deployed.action, deployed.actor, deployed.subject) == ("deploy", "alice", f"{name}/{served_agent.version}")
    assert (deployed.payload["url"], deployed.payload["pid"], deployed.payload["sha256"]) == (
        done.url,
        done.pid,
        built.artifact.sha256,
    )
    assert (undeployed.action, undeployed.subject, undeployed.payload["status"]) == (
        "undeploy",
        f"{name}/{served_agent.version}",
        "stopped",
    )
    assert not process.alive(done.pid, record.started)
    assert records.read(config.home, name, "bentoml-local") is None
    assert serving.undeploy(config, plugins, name) is None


def test_kubernetes_writes_a_deployment_and_a_service_for_the_bento_image(
    served_agent, served_bento, tmp_path: Path
) -> None:
    import yaml

    ref = AgentRef(served_agent.name, version=served_agent.version)
    _, done = serving.deploy(
        served_agent.config, served_agent.plugins, ref, target="kubernetes", options={"output": str(tmp_path)}
    )
    assert done.status == "written" and {f.name for f in done.files} == {"deployment.yaml", "service.yaml"}
    deployment = yaml.safe_load((tmp_path / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == served_bento.artifact.tag
    removed = serving.undeploy(
        served_agent.config,
        served_agent.plugins,
        served_agent.name,
        target="kubernetes",
        options={"output": str(tmp_path)},
    )
    assert removed is not None and not (tmp_path / "deployment.yaml").exists()


@pytest.mark.parametrize(
    ("ref", "version", "message"),
    [
        ("router/3", 3, "names a version or stage already"),
        ("router", None, "name a version (NAME VERSION) or a stage"),
    ],
)
def test_a_reference_must_name_one_version(ref: str, version: int | None, message: str) -> None:
    from agentgov.core.errors import InvalidValue

    with pytest.raises(InvalidValue, match=message.replace("(", r"\(").replace(")", r"\)")):
        serving.parse_ref(ref, version)


def test_an_unknown_target_is_refused_naming_the_known_ones(served_agent) -> None:
    from agentgov.core.errors import InvalidValue

    with pytest.raises(InvalidValue, match="unknown deploy target 'nope': expected one of bentoml-local, kubernetes"):
        serving.deploy_target(served_agent.plugins, "nope")
