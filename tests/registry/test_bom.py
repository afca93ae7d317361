"""Bills of materials: recorded at registration, read back, compared; on both backends."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager
from agentgov.core.types import AgentRef
from agentgov.pipelines.registration import register
from agentgov.registry import bom
from agentgov.registry.manifest import ManifestError, load_manifest
from agentgov.registry.store import get

DVC = str(Path(sys.executable).parent / "dvc")
SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"]}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dvc_add(folder: Path, path: str) -> str:
    subprocess.run([DVC, "add", "-q", path], cwd=folder, check=True, capture_output=True)
    return yaml.safe_load((folder / f"{path}.dvc").read_text())["outs"][0]["md5"]


PROMPT_TEMPLATE = "You route support tickets about {{ product }}."


@pytest.fixture
def registry_prompt(mlflow_client) -> str:
    """A prompt in MLflow's prompt registry, named for this test: its prompts:/ URI."""
    name = f"support-system-{uuid.uuid4().hex[:8]}"
    mlflow_client.register_prompt(name, PROMPT_TEMPLATE)
    return f"prompts:/{name}/1"


@pytest.fixture
def bom_agent(agent_dir: Path, registry_prompt: str) -> Path:
    """The example agent with a prompt (also in MLflow's prompt registry), a tool schema and a DVC-tracked dataset."""
    (agent_dir / "prompts").mkdir()
    (agent_dir / "prompts" / "system.txt").write_text("You route support tickets.\n")
    (agent_dir / "tools").mkdir()
    (agent_dir / "tools" / "create_ticket.json").write_text(json.dumps(SCHEMA))
    (agent_dir / "data").mkdir(exist_ok=True)
    (agent_dir / "data" / "eval.csv").write_text("subject,body,label\nInvoice,where is it,billing\n")
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=agent_dir, check=True)
    _dvc_add(agent_dir, "data/eval.csv")
    manifest = agent_dir / "agent.yaml"
    manifest.write_text(
        manifest.read_text()
        + f"prompts:\n  - name: system\n    path: prompts/system.txt\n    registry: {registry_prompt}\n"
        + "tools:\n  - connector: helpdesk\n    action: create_ticket\n    schema: tools/create_ticket.json\n"
        + "datasets:\n  - path: data/eval.csv\n    role: eval\n"
    )
    return agent_dir


def _register(config: Config, home: Home, plugins: PluginManager, folder: Path):
    return register(folder, config=config, audit=home.audit_log, plugins=plugins, actor="alice")


def test_registration_records_the_bill_of_materials_on_the_version(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, bom_agent: Path, mlflow_client, registry_prompt: str
) -> None:
    version = _register(registry_config, agentgov_home, agentgov_plugins, bom_agent)
    assert bom.TAG_BOM in version.tags  # small enough for a tag
    bill = bom.read(mlflow_client, version)
    items = {(i.section, i.name): i.value for i in bill.items()}
    assert items[("code", "router.py")] == _sha(bom_agent / "router.py")
    assert items[("manifest", "agent.yaml")] == _sha(bom_agent / "agent.yaml") == version.lineage["manifest_sha256"]
    assert items[("prompt", "system")] == _sha(bom_agent / "prompts" / "system.txt")
    assert items[("prompt-registry", "system")] == f"{registry_prompt} v1 sha256:{_sha_text(PROMPT_TEMPLATE)}"
    assert items[("tool", "helpdesk.create_ticket")] == _sha(bom_agent / "tools" / "create_ticket.json")
    md5 = yaml.safe_load((bom_agent / "data" / "eval.csv.dvc").read_text())["outs"][0]["md5"]
    assert items[("dataset", "data/eval.csv")] == md5
    assert items[("requirement", "mlflow")].startswith("mlflow==")
    assert items[("bento", "tag")] is None
    assert {("version", "agentgov"), ("version", "mlflow")} <= items.keys()
    files = "".join(f"{p}\0{_sha(bom_agent / p)}\n" for p in ("router.py",))
    assert items[("code", "(all files)")] == hashlib.sha256(files.encode()).hexdigest()


def test_diff_shows_a_changed_prompt_dataset_and_manifest_fields(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, bom_agent: Path, mlflow_client
) -> None:
    first = _register(registry_config, agentgov_home, agentgov_plugins, bom_agent)
    (bom_agent / "prompts" / "system.txt").write_text("You route support tickets. Be brief.\n")
    (bom_agent / "data" / "eval.csv").write_text("subject,body,label\nInvoice,where is it,billing\nCrash,app dies,technical\n")
    new_md5 = _dvc_add(bom_agent, "data/eval.csv")
    manifest = bom_agent / "agent.yaml"
    manifest.write_text(manifest.read_text().replace("task_success_min: 0.85", "task_success_min: 0.9").replace('"tickets:write"]', '"tickets:write", "users:read"]'))
    second = _register(registry_config, agentgov_home, agentgov_plugins, bom_agent)

    changes = bom.diff(bom.read(mlflow_client, first), bom.read(mlflow_client, second), first.manifest, second.manifest)
    by_item = {(c.section, c.name): c for c in changes}
    prompt = by_item[("prompt", "system")]
    assert (prompt.change, prompt.old, prompt.new) == ("changed", _sha_text("You route support tickets.\n"), _sha(bom_agent / "prompts" / "system.txt"))
    assert (by_item[("dataset", "data/eval.csv")].change, by_item[("dataset", "data/eval.csv")].new) == ("changed", new_md5)
    assert by_item[("manifest", "agent.yaml")].change == "changed"
    criteria = by_item[("manifest-field", "success_criteria.task_success_min")]
    assert (criteria.old, criteria.new) == ("0.85", "0.9")
    scopes = by_item[("manifest-field", "connectors[helpdesk].scopes")]
    assert json.loads(scopes.new) == ["tickets:read", "tickets:write", "users:read"]
    assert ("code", "router.py") not in by_item and ("tool", "helpdesk.create_ticket") not in by_item
    assert bom.diff(bom.read(mlflow_client, first), bom.read(mlflow_client, first)) == []


def _sha_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_prompt_missing_from_the_prompt_registry_refuses_registration(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, bom_agent: Path, agent_name: str, mlflow_client
) -> None:
    manifest = bom_agent / "agent.yaml"
    missing = f"prompts:/nowhere-{uuid.uuid4().hex[:8]}/4"
    manifest.write_text(re.sub(r"registry: prompts:/\S+", f"registry: {missing}", manifest.read_text()))
    with pytest.raises(bom.BomUnavailable, match=f"prompt system: {missing} is not in the MLflow prompt registry"):
        _register(registry_config, agentgov_home, agentgov_plugins, bom_agent)
    assert mlflow_client.search_model_versions(f"name = '{agent_name}'") == []


def test_mlflow_keeps_a_version_tag_up_to_the_limit_the_bom_relies_on(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client
) -> None:
    from mlflow.exceptions import MlflowException

    _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    mlflow_client.set_model_version_tag(agent_name, "1", "probe", "x" * bom.TAG_LIMIT)
    assert len(mlflow_client.get_model_version(agent_name, "1").tags["probe"]) == bom.TAG_LIMIT
    with pytest.raises(MlflowException):
        mlflow_client.set_model_version_tag(agent_name, "1", "probe", "x" * (bom.TAG_LIMIT + 1))


def test_a_bill_too_large_for_a_tag_is_an_artifact_checked_by_its_hash(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client, clone_version
) -> None:
    first = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    bill = bom.read(mlflow_client, first)
    number = clone_version(agent_name, 1)
    mlflow_client.delete_model_version_tag(agent_name, str(number), bom.TAG_BOM)
    with pytest.raises(bom.BomUnavailable, match="has no bill of materials"):
        bom.read(mlflow_client, get(mlflow_client, AgentRef(agent_name, version=number)))

    run_id = mlflow_client.get_model_version(agent_name, str(number)).run_id
    assert bom.record(mlflow_client, agent_name, number, bill, run_id, limit=100) == "artifact"
    clone = get(mlflow_client, AgentRef(agent_name, version=number))
    assert bom.TAG_BOM not in clone.tags
    assert bom.read(mlflow_client, clone) == bill
    mlflow_client.set_model_version_tag(agent_name, str(number), bom.TAG_BOM_SHA256, "0" * 64)
    with pytest.raises(bom.BomUnavailable, match="does not match its recorded SHA-256"):
        bom.read(mlflow_client, get(mlflow_client, AgentRef(agent_name, version=number)))


def test_contract_suites_and_code_packages_are_in_the_bill(tmp_path: Path) -> None:
    (tmp_path / "router.py").write_text("class Router: ...\n")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "rules.py").write_text("RULES = []\n")
    (tmp_path / "helpers" / "__pycache__").mkdir()
    (tmp_path / "helpers" / "__pycache__" / "rules.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "notes.txt").write_text("not code")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "requests.json").write_text('{"name": "requests", "expectations": []}')
    (tmp_path / "agent.yaml").write_text(MANIFEST + "contracts:\n  inputs: suites/requests.json\n  outputs: suites/responses.json\n")
    (tmp_path / "suites" / "responses.json").write_text("{}")
    manifest = load_manifest(tmp_path)
    (tmp_path / "suites" / "responses.json").unlink()  # gone after validation: recorded as missing, not an error
    bill = bom.build(tmp_path, tmp_path / "agent.yaml", manifest, ["requests==2.32.3", "Typing_Extensions==4.12.2"])
    items = {(i.section, i.name): i.value for i in bill.items()}
    assert items[("contract", "inputs")] == _sha(tmp_path / "suites" / "requests.json")
    assert items[("contract", "outputs")] == bom.MISSING
    assert sorted(bill.data["code"]["files"]) == ["helpers/__init__.py", "helpers/rules.py", "router.py"]
    assert items[("requirement", "typing-extensions")] == "Typing_Extensions==4.12.2"
    assert bom.build(tmp_path, tmp_path / "agent.yaml", manifest, ["requests==2.32.3", "Typing_Extensions==4.12.2"]) == bill  # stable


MANIFEST = """\
name: router
description: Routes tickets.
owners: [a]
risk_tier: low
entrypoint: router.py:Router
example_request: {subject: hi}
connectors:
  - {name: helpdesk, kind: zendesk, scopes: ["tickets:read"]}
"""


@pytest.mark.parametrize(
    ("extra", "field", "line", "words"),
    [
        ("prompts:\n  - {name: system, path: prompts/missing.txt}\n", "prompts[0].path", 10, "prompts/missing.txt does not exist"),
        ("tools:\n  - {connector: helpdesk, action: create, schema: tools/bad.json}\n", "tools[0].schema", 10, "tools/bad.json is not JSON"),
        ("tools:\n  - {connector: crm, action: create, schema: tools/ok.json}\n", "tools[0].connector", 10, "no connector named 'crm'"),
        ("prompts:\n  - {name: a, path: p.txt}\n  - {name: a, path: p.txt}\n", "prompts[1].name", 11, "duplicate prompt name 'a'"),
        ("prompts:\n  - {name: a, path: p.txt, registry: 'models:/x/1'}\n", "prompts[0].registry", 10, "expected an MLflow prompt registry reference"),
    ],
)
def test_prompt_and_tool_files_are_checked_like_the_entrypoint(tmp_path: Path, extra: str, field: str, line: int, words: str) -> None:
    (tmp_path / "router.py").write_text("class Router: ...\n")
    (tmp_path / "p.txt").write_text("hi")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "bad.json").write_text("{not json")
    (tmp_path / "tools" / "ok.json").write_text("{}")
    (tmp_path / "agent.yaml").write_text(MANIFEST + extra)
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path)
    (problem,) = caught.value.problems
    assert (problem.field, problem.line) == (field, line)
    assert words in problem.message


def test_manifest_fields_are_flattened_with_list_items_keyed_by_name() -> None:
    flat = bom.flatten({
        "connectors": [{"name": "helpdesk", "kind": "zendesk", "scopes": ["tickets:read"]}],
        "tools": [{"connector": "helpdesk", "action": "create", "schema": "t.json"}],
        "success_criteria": {"task_success_min": 0.85},
        "owners": ["a", "b"],
    })
    assert flat == {
        "connectors[helpdesk].kind": '"zendesk"',
        "connectors[helpdesk].scopes": '["tickets:read"]',
        "tools[helpdesk.create].schema": '"t.json"',
        "success_criteria.task_success_min": "0.85",
        "owners": '["a", "b"]',
    }


@pytest.mark.timeout(30)
def test_a_hostile_dvc_pointer_is_unreadable_at_once(tmp_path: Path) -> None:
    from agentgov.registry import lineage

    (tmp_path / "eval.csv").write_text("a\n1\n")
    levels = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 10))
    (tmp_path / "eval.csv.dvc").write_text("l0: &l0 lol\n" + levels + "outs:\n- md5: *l9\n  size: *l9\n")
    assert lineage.dvc_hash(tmp_path / "eval.csv") == "unreadable"
    assert lineage.dvc_pointer(tmp_path / "eval.csv") is None

    (tmp_path / "eval.csv.dvc").write_text("outs:\n- md5: abc123\n  size: 4\n  hash: md5\n  path: eval.csv\n" + "#" * (64 << 10))
    assert lineage.dvc_hash(tmp_path / "eval.csv") == "unreadable"  # over 64 KiB: not read
    (tmp_path / "eval.csv.dvc").write_text("outs:\n- md5: abc123\n  size: 4\n  hash: md5\n  path: eval.csv\n")
    assert lineage.dvc_hash(tmp_path / "eval.csv") == "abc123"
    assert lineage.dvc_pointer(tmp_path / "eval.csv") == '{"hash":"md5","md5":"abc123","size":4}'


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_versions_bento_joins_its_bill_whether_a_tag_or_an_artifact(
    registry_config: Config, agentgov_home: Home, agentgov_plugins: PluginManager, agent_dir: Path, agent_name: str, mlflow_client, clone_version
) -> None:
    version = _register(registry_config, agentgov_home, agentgov_plugins, agent_dir)
    bento = {"tag": f"{agent_name}:v1-0123456789ab", "sha256": "ab" * 32}
    updated = bom.record_bento(mlflow_client, version, bento)
    again = get(mlflow_client, AgentRef(agent_name, version=1))
    assert bom.read(mlflow_client, again) == updated and updated.data["bento"] == bento
    items = {(i.section, i.name): i.value for i in updated.items()}
    assert (items[("bento", "tag")], items[("bento", "sha256")]) == (bento["tag"], bento["sha256"])
    assert {k: v for k, v in updated.data.items() if k != "bento"} == {k: v for k, v in bom.read(mlflow_client, version).data.items() if k != "bento"}
    assert bom.record_bento(mlflow_client, again, bento) == updated  # already there: the same bill

    number = clone_version(agent_name, 1)  # a version whose bill is an artifact
    run_id = mlflow_client.get_model_version(agent_name, str(number)).run_id
    mlflow_client.delete_model_version_tag(agent_name, str(number), bom.TAG_BOM)
    bom.record(mlflow_client, agent_name, number, bom.Bom({**updated.data, "bento": None}), run_id, limit=100)
    clone = get(mlflow_client, AgentRef(agent_name, version=number))
    rebuilt = bom.record_bento(mlflow_client, clone, {"tag": f"{agent_name}:v{number}-fedcba987654", "sha256": "cd" * 32})
    assert bom.read(mlflow_client, get(mlflow_client, AgentRef(agent_name, version=number))) == rebuilt
