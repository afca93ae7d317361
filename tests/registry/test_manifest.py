"""The agent manifest, ``agent.yaml``: real files, every problem with its field and line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pydantic
import pytest
import yaml

from agentgov.core.errors import AgentgovError
from agentgov.core.types import is_slug
from agentgov.registry.manifest import (
    Manifest,
    ManifestError,
    ManifestProblem,
    load_manifest,
    manifest_json_schema,
    read_name,
)

MINIMAL = """\
name: support-router
description: Routes support tickets.
owners: [support@example.com]
risk_tier: medium
entrypoint: agent.py:Agent
example_request:
  text: where is my refund?
"""

FULL = """\
# The support router's manifest.
name: support-router
description: Routes support tickets.
owners:
  - support@example.com
  - oncall@example.com
risk_tier: high
entrypoint: agent.py:Agent
example_request:
  subject: Charged twice
  body: Please refund me.
  priority: 2
models:
  - {name: all-MiniLM-L6-v2, kind: embedding, provider: local, size: 22M}
  - name: gpt-4o-mini
    kind: llm
    provider: openai
connectors:
  - name: helpdesk
    kind: zendesk
    scopes: ["tickets:read", "tickets:write"]
    rate_limit: 10/s
  - name: warehouse
    kind: postgres
    scopes: ["*"]
datasets:
  - {path: data/train.csv, role: train}
  - {path: data/eval.csv, role: eval}
contracts:
  inputs: contracts/requests.json
  outputs: contracts/responses.json
success_criteria:
  task_success_min: 0.85
  latency_p95_ms_max: 200
  error_rate_max: 0.01
  cost_per_task_max: 0
resources:
  cpu: 0.5
  memory: 512Mi
  gpu: 1
requirements: ["scikit-learn==1.5.2", "uvicorn[standard]==0.30.6"]
tags:
  team: support
  cost-centre: "42"
"""


def write(folder: Path, text: str, *, code: bool = True) -> Path:
    """``agent.yaml`` (and, with ``code``, the ``agent.py`` it names) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.yaml"
    path.write_text(text, encoding="utf-8")
    if code:
        (folder / "agent.py").write_text("class Agent:\n    def act(self, request):\n        return {}\n", encoding="utf-8")
    return path


def problems_of(path: Path) -> list[tuple[str, int, str]]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    return [(p.field, p.line, p.message) for p in caught.value.problems]


def only_problem(path: Path) -> tuple[str, int, str]:
    found = problems_of(path)
    assert len(found) == 1, found
    return found[0]


def test_a_full_manifest_loads(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, FULL))

    assert manifest.name == "support-router"
    assert manifest.owners == ["support@example.com", "oncall@example.com"]
    assert manifest.risk_tier == "high"
    assert manifest.entrypoint_parts() == ("agent.py", "Agent")
    assert manifest.example_request == {"subject": "Charged twice", "body": "Please refund me.", "priority": 2}
    assert [(m.name, m.size) for m in manifest.models] == [("all-MiniLM-L6-v2", "22M"), ("gpt-4o-mini", None)]
    assert manifest.connectors[0].scopes == ["tickets:read", "tickets:write"]
    assert manifest.connectors[0].rate_limit == "10/s"
    assert manifest.connectors[1].rate_limit is None
    assert [(d.path, d.role) for d in manifest.datasets] == [("data/train.csv", "train"), ("data/eval.csv", "eval")]
    assert manifest.contracts.outputs == "contracts/responses.json"
    assert manifest.success_criteria.latency_p95_ms_max == 200.0
    assert manifest.success_criteria.cost_per_task_max == 0.0
    assert (manifest.resources.cpu, manifest.resources.memory, manifest.resources.gpu) == (0.5, "512Mi", 1)
    assert manifest.requirements == ["scikit-learn==1.5.2", "uvicorn[standard]==0.30.6"]
    assert manifest.tags == {"team": "support", "cost-centre": "42"}


def test_a_minimal_manifest_gets_the_defaults(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, MINIMAL))

    assert manifest.models == [] and manifest.connectors == [] and manifest.datasets == []
    assert manifest.contracts.inputs is None and manifest.contracts.outputs is None
    criteria = manifest.success_criteria
    assert (criteria.task_success_min, criteria.latency_p95_ms_max, criteria.error_rate_max, criteria.cost_per_task_max) == (None,) * 4
    assert (manifest.resources.cpu, manifest.resources.memory, manifest.resources.gpu) == (1.0, "1Gi", 0)
    assert manifest.requirements == [] and manifest.tags == {}


def test_the_folder_or_the_file_may_be_given(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert load_manifest(tmp_path) == load_manifest(path)


def test_a_models_from_code_entrypoint_has_no_class(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL.replace("agent.py:Agent", "model.py"), code=False)
    (tmp_path / "model.py").write_text("# mlflow.models.set_model(...)\n", encoding="utf-8")
    assert load_manifest(tmp_path).entrypoint_parts() == ("model.py", None)


def test_a_manifest_is_frozen_and_survives_a_json_round_trip(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, FULL))
    with pytest.raises(pydantic.ValidationError):
        manifest.name = "other"  # type: ignore[misc]
    # The registry stores the manifest as JSON on each version; it must read back the same.
    stored = json.loads(json.dumps(manifest.model_dump(mode="json")))
    assert Manifest.model_validate(stored) == manifest


# (case, text, field, line, words in the message)
INVALID = [
    ("unknown top-level key", MINIMAL + "colour: blue\n", "colour", 8, "unknown key (expected one of: name, description,"),
    ("unknown nested key", MINIMAL + "resources:\n  cpu: 1\n  disk: 10Gi\n", "resources.disk", 10, "unknown key (expected one of: cpu, memory, gpu)"),
    (
        "unknown key in a list item",
        MINIMAL + "connectors:\n  - name: helpdesk\n    kind: zendesk\n    scopes: ['*']\n    region: eu\n",
        "connectors[0].region", 12, "unknown key (expected one of: name, kind, scopes, rate_limit, config)",
    ),
    ("name not a slug", MINIMAL.replace("name: support-router", "name: Support_Router"), "name", 1, "DNS-safe name"),
    ("name too long", MINIMAL.replace("name: support-router", f"name: {'a' * 64}"), "name", 1, "at most 63 characters"),
    ("bad risk tier", MINIMAL.replace("risk_tier: medium", "risk_tier: critical"), "risk_tier", 4, "input should be 'low', 'medium' or 'high', got 'critical'"),
    ("missing field", MINIMAL.replace("description: Routes support tickets.\n", ""), "description", 1, "required, but missing"),
    (
        "missing field after a comment",
        "# header\n\n" + MINIMAL.replace("owners: [support@example.com]\n", ""),
        "owners", 3, "required, but missing",
    ),
    (
        "missing nested field",
        MINIMAL + "connectors:\n  - name: helpdesk\n    scopes: ['*']\n",
        "connectors[0].kind", 9, "required, but missing",
    ),
    ("owners not a list", MINIMAL.replace("owners: [support@example.com]", "owners: support@example.com"), "owners", 3, "input should be a valid list"),
    ("no owners", MINIMAL.replace("owners: [support@example.com]", "owners: []"), "owners", 3, "at least 1 item"),
    ("empty owner", MINIMAL.replace("owners: [support@example.com]", "owners:\n  - ''"), "owners[0]", 4, "at least 1 character"),
    ("example not a mapping", MINIMAL.replace("  text: where is my refund?\n", "  - where is my refund?\n"), "example_request", 6, "valid dictionary"),
    ("number as a string", MINIMAL + "resources:\n  cpu: '2'\n", "resources.cpu", 9, "input should be a valid number, got '2'"),
    ("bool as a number", MINIMAL + "resources:\n  gpu: true\n", "resources.gpu", 9, "valid integer"),
    ("zero cpu", MINIMAL + "resources:\n  cpu: 0\n", "resources.cpu", 9, "greater than 0"),
    ("bad memory", MINIMAL + "resources:\n  memory: 2G\n", "resources.memory", 9, "expected a size in Ki, Mi, Gi or Ti, like '512Mi', got '2G'"),
    ("tag value not a string", MINIMAL + "tags:\n  team: 7\n", "tags.team", 9, "valid string, got 7"),
    (
        "bad scope",
        MINIMAL + "connectors:\n  - name: helpdesk\n    kind: zendesk\n    scopes:\n      - tickets:read\n      - Tickets\n",
        "connectors[0].scopes[1]", 13, "expected RESOURCE:ACTION like 'tickets:read' or '*', got 'Tickets'",
    ),
    (
        "bad rate limit",
        MINIMAL + "connectors:\n  - {name: helpdesk, kind: zendesk, scopes: ['*'], rate_limit: 10 per second}\n",
        "connectors[0].rate_limit", 9, "like '10/s', got '10 per second'",
    ),
    (
        "duplicate connector names",
        MINIMAL + "connectors:\n  - {name: helpdesk, kind: zendesk, scopes: ['*']}\n  - {name: crm, kind: hubspot, scopes: ['*']}\n"
        "  - {name: helpdesk, kind: jira, scopes: ['*']}\n",
        "connectors[2].name", 11, "duplicate connector name 'helpdesk' (first at index 0)",
    ),
    (
        "duplicate dataset paths",
        MINIMAL + "datasets:\n  - {path: data/a.csv, role: train}\n  - {path: ./data/a.csv, role: eval}\n",
        "datasets[1].path", 10, "duplicate dataset path 'data/a.csv'",
    ),
    ("unpinned requirement", MINIMAL + "requirements:\n  - requests==2.32.3\n  - pandas\n", "requirements[1]", 10, "exact pin NAME==VERSION"),
    ("range requirement", MINIMAL + "requirements: ['pandas>=2.2']\n", "requirements[0]", 8, "exact pin NAME==VERSION, like 'requests==2.32.3', got 'pandas>=2.2'"),
    ("wildcard requirement", MINIMAL + "requirements: ['pandas==2.*']\n", "requirements[0]", 8, "exact pin"),
    ("two pins of one package", MINIMAL + "requirements: ['pandas==2.2.3', 'Pandas==2.2.2']\n", "requirements[1]", 8, "duplicate requirement 'pandas'"),
    ("absolute dataset path", MINIMAL + "datasets:\n  - path: /data/train.csv\n    role: train\n", "datasets[0].path", 9, "relative to the agent's folder, got '/data/train.csv'"),
    ("windows dataset path", MINIMAL + "datasets:\n  - {path: 'C:\\data\\train.csv', role: train}\n", "datasets[0].path", 9, "relative to the agent's folder"),
    ("dataset path with ..", MINIMAL + "datasets:\n  - {path: data/../../secrets.csv, role: train}\n", "datasets[0].path", 9, "'..' is not allowed"),
    ("bad dataset role", MINIMAL + "datasets:\n  - {path: a.csv, role: test}\n", "datasets[0].role", 9, "'train', 'eval' or 'reference'"),
    ("contract not JSON", MINIMAL + "contracts:\n  inputs: suites/requests.yaml\n", "contracts.inputs", 9, "suite .json file"),
    ("contract outside", MINIMAL + "contracts:\n  outputs: ../suite.json\n", "contracts.outputs", 9, "'..' is not allowed"),
    ("success rate above 1", MINIMAL + "success_criteria:\n  task_success_min: 85\n", "success_criteria.task_success_min", 9, "less than or equal to 1, got 85"),
    ("negative cost", MINIMAL + "success_criteria:\n  cost_per_task_max: -1\n", "success_criteria.cost_per_task_max", 9, "greater than or equal to 0"),
    ("entrypoint without .py", MINIMAL.replace("agent.py:Agent", "agent:Agent"), "entrypoint", 5, "expected FILE.py:ClassName or FILE.py"),
    ("entrypoint in a subfolder", MINIMAL.replace("agent.py:Agent", "src/agent.py:Agent"), "entrypoint", 5, "beside agent.yaml, got 'src/agent.py:Agent'"),
    ("entrypoint with an empty class", MINIMAL.replace("agent.py:Agent", "'agent.py:'"), "entrypoint", 5, "FILE.py:ClassName"),
    ("entrypoint with a dotted class", MINIMAL.replace("agent.py:Agent", "agent.py:mod.Agent"), "entrypoint", 5, "FILE.py:ClassName"),
    ("repeated key", MINIMAL + "risk_tier: low\n", "risk_tier", 8, "repeated key (also on line 4); remove one"),
]


@pytest.mark.parametrize(("text", "field", "line", "words"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_an_invalid_manifest_names_the_field_and_the_line(tmp_path: Path, text: str, field: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    assert only_problem(path)[:2] == (field, line)
    assert words in only_problem(path)[2]


def test_a_missing_entrypoint_file_is_named_with_its_folder(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, code=False)
    assert only_problem(path) == ("entrypoint", 5, f"agent.py does not exist in {tmp_path}")
    (tmp_path / "agent.py").mkdir()  # a folder is no file
    assert only_problem(path) == ("entrypoint", 5, f"agent.py does not exist in {tmp_path}")


def test_several_problems_are_all_reported_in_line_order(tmp_path: Path) -> None:
    text = """\
name: Bad Name
owners: support@example.com
risk_tier: extreme
entrypoint: agent.py:Agent
example_request: {text: hi}
connectors:
  - name: helpdesk
    kind: zendesk
    scopes: [read]
requirements: [requests]
colour: blue
"""
    path = write(tmp_path, text, code=False)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    found = [(p.field, p.line) for p in caught.value.problems]
    assert found == [
        ("name", 1),
        ("description", 1),
        ("owners", 2),
        ("risk_tier", 3),
        ("entrypoint", 4),
        ("connectors[0].scopes[0]", 9),
        ("requirements[0]", 10),
        ("colour", 11),
    ]
    # One line per problem, so the command line prints each on its own.
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]
    assert str(caught.value.problems[0]).startswith(f"{path}, line 1: name: expected a DNS-safe name")


def test_the_error_is_a_user_error_with_frozen_problems(tmp_path: Path) -> None:
    problem = ManifestProblem(tmp_path / "agent.yaml", 3, "owners", "required, but missing")
    error = ManifestError([problem])
    assert isinstance(error, AgentgovError) and error.exit_code == 2
    assert error.problems == (problem,)
    assert str(error) == f"{tmp_path / 'agent.yaml'}, line 3: owners: required, but missing"
    with pytest.raises(AttributeError):
        problem.line = 4  # type: ignore[misc]


# Problems with the file as a whole: (case, content, field, line, words)
BROKEN_FILES = [
    ("YAML syntax error", b"name: a\nowners: [x, y\nrisk_tier: low\n", "(yaml)", 3, "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence from line 2)"),
    ("unclosed quote", b'name: a\ndescription: "routes\nrisk_tier: low\n', "(yaml)", 4, "unexpected end of stream (while scanning a quoted scalar from line 2)"),
    ("bad indentation", b"name: a\n  owners: x\n", "(yaml)", 2, "invalid YAML: mapping values are not allowed here"),
    ("two documents", b"name: a\n---\nname: b\n", "(yaml)", 2, "expected a single document in the stream"),
    ("python tag", b"name: !!python/object/apply:os.system [ls]\n", "(yaml)", 1, "could not determine a constructor"),
    ("empty file", b"", "(top level)", 1, "the file is empty"),
    ("only comments", b"# nothing yet\n", "(top level)", 1, "the file is empty"),
    ("a list", b"# agents\n- name: a\n- name: b\n", "(top level)", 2, "expected a mapping of keys to values, got a list"),
    ("a scalar", b"support-router\n", "(top level)", 1, "expected a mapping of keys to values, got 'support-router'"),
    ("not UTF-8", b"name: a\ndescription: caf\xe9\n", "(file)", 2, "not UTF-8 text (byte 24)"),
]


@pytest.mark.parametrize(("content", "field", "line", "words"), [c[1:] for c in BROKEN_FILES], ids=[c[0] for c in BROKEN_FILES])
def test_a_broken_file_gives_one_clear_problem(tmp_path: Path, content: bytes, field: str, line: int, words: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_bytes(content)
    found = only_problem(path)
    assert found[:2] == (field, line)
    assert words in found[2]


def test_a_missing_manifest_names_the_folder(tmp_path: Path) -> None:
    assert only_problem(tmp_path) == ("(file)", 1, f"no agent.yaml in {tmp_path}")
    assert only_problem(tmp_path / "agent.yaml") == ("(file)", 1, f"no agent.yaml in {tmp_path}")
    assert only_problem(tmp_path / "nowhere") == ("(file)", 1, f"no agent.yaml and no folder {tmp_path / 'nowhere'}")


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_manifest(path).name == "support-router"


def test_the_json_schema_forbids_unknown_keys_and_lists_required_fields() -> None:
    schema = manifest_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]
    assert schema["additionalProperties"] is False
    assert all(definition["additionalProperties"] is False for definition in schema["$defs"].values())
    assert set(schema["required"]) == {"name", "description", "owners", "risk_tier", "entrypoint", "example_request"}
    assert set(schema["$defs"]["Connector"]["required"]) == {"name", "kind", "scopes"}
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_json_schema_accepts_the_examples_and_rejects_what_load_manifest_rejects() -> None:
    validator = jsonschema.Draft202012Validator(manifest_json_schema())
    full = yaml.safe_load(FULL)
    assert list(validator.iter_errors(full)) == []
    assert list(validator.iter_errors(yaml.safe_load(MINIMAL))) == []

    bad = [
        {**full, "colour": "blue"},
        {**full, "resources": {"cpu": 1, "disk": "10Gi"}},
        {**full, "name": "Support_Router"},
        {**full, "risk_tier": "critical"},
        {**full, "owners": []},
        {**full, "entrypoint": "agent:Agent"},
        {**full, "connectors": [{"name": "a", "kind": "k", "scopes": ["read"]}]},
        {**full, "requirements": ["pandas"]},
        {**full, "resources": {"memory": "2G"}},
        {**full, "success_criteria": {"error_rate_max": 2}},
        {key: value for key, value in full.items() if key != "description"},
    ]
    for manifest in bad:
        assert list(validator.iter_errors(manifest)), manifest


def test_the_schema_name_pattern_is_is_slug() -> None:
    pattern = manifest_json_schema()["properties"]["name"]["pattern"]
    validator = jsonschema.Draft202012Validator({"type": "string", "pattern": pattern})
    for name in ("a", "support-router", "r2-d2", "a" * 63, "a" * 64, "-a", "a-", "A", "a_b", "a.b", ""):
        assert validator.is_valid(name) == is_slug(name), name


# Hostile manifests: bounded before they are parsed in full (issue 12, item 6).


def alias_bomb(depth: int) -> str:
    """A "billion laughs": each level is ten aliases of the one before, 10**depth strings in all."""
    levels = [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, depth + 1)]
    return MINIMAL + "  l0: &l0 lol\n" + "\n".join(levels) + "\n"


@pytest.mark.timeout(30)
def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    import time

    path = write(tmp_path, alias_bomb(9))
    started = time.monotonic()
    field, line, message = only_problem(path)
    assert time.monotonic() - started < 5
    assert (field, line) == ("(yaml)", 12)  # the first level whose expansion crosses the limit
    assert message == "over 10,000 values once its aliases are expanded; a manifest may hold at most 10,000 (keys, items and scalars)"
    assert read_name(path) is None  # the flow's run name does not expand it either


def test_aliases_within_the_budget_are_fine(tmp_path: Path) -> None:
    text = MINIMAL + "connectors:\n  - {name: a, kind: zendesk, scopes: &rw ['tickets:read', 'tickets:write']}\n  - {name: b, kind: jira, scopes: *rw}\n"
    manifest = load_manifest(write(tmp_path, text))
    assert manifest.connectors[1].scopes == ["tickets:read", "tickets:write"]
    assert load_manifest(write(tmp_path, alias_bomb(3))).example_request["l3"][0][0] == ["lol"] * 10


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "  loop: &loop [a, *loop]\n")
    assert only_problem(path) == ("(yaml)", 8, "recursive alias *loop: a value may not contain itself")


def test_over_ten_thousand_values_are_refused_without_aliases_too(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "  many: [" + ", ".join(["1"] * 10_000) + "]\n")
    assert only_problem(path) == ("(yaml)", 8, "over 10,000 values; a manifest may hold at most 10,000 (keys, items and scalars)")


def test_a_manifest_over_one_mib_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    with open(path, "ab") as f:
        f.truncate(200 << 20)  # 200 MB, sparse: reading it would take seconds and the memory
    message = "the file is 209,715,200 bytes; a manifest may be at most 1 MiB (1,048,576 bytes)"
    assert only_problem(path) == ("(file)", 1, message)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert str(caught.value) == f"{path}, line 1: (file): {message}"


@pytest.mark.timeout(30)
def test_a_manifest_that_is_no_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "agent.yaml")  # opening it would wait for a writer forever
    assert only_problem(tmp_path) == ("(file)", 1, "not a regular file")


LONG = [
    ("description", MINIMAL.replace("Routes support tickets.", "x" * 5001), "description", 2, "at most 5000 characters"),
    ("owner", MINIMAL.replace("support@example.com", "a" * 257), "owners[0]", 3, "at most 256 characters"),
    ("tag value", MINIMAL + f"tags:\n  team: {'t' * 257}\n", "tags.team", 9, "at most 256 characters"),
    ("tag key", MINIMAL + f"tags:\n  {'k' * 257}: x\n", f"tags.{'k' * 257} (key)", 9, "at most 256 characters"),
    ("model name", MINIMAL + f"models:\n  - {{name: {'m' * 300}, kind: llm, provider: x}}\n", "models[0].name", 9, "at most 256 characters"),
    ("scope", MINIMAL + f"connectors:\n  - {{name: a, kind: b, scopes: ['{'s' * 300}:read']}}\n", "connectors[0].scopes[0]", 9, "expected at most 256 characters, got 305"),
    ("dataset path", MINIMAL + f"datasets:\n  - {{path: {'d' * 201}.csv, role: eval}}\n", "datasets[0].path", 9, "at most 200 characters"),
    ("example request", MINIMAL + f"  big: {'b' * 70_000}\n", "example_request", 6, "expected at most 65536 bytes as JSON, got 70039"),
]


@pytest.mark.parametrize(("text", "field", "line", "words"), [c[1:] for c in LONG], ids=[c[0] for c in LONG])
def test_text_fields_have_a_length_limit(tmp_path: Path, text: str, field: str, line: int, words: str) -> None:
    found = only_problem(write(tmp_path, text))
    assert found[:2] == (field, line) and words in found[2], found


def test_the_whole_manifest_fits_the_mlflow_tag_it_is_recorded_in(tmp_path: Path) -> None:
    tags = "".join(f"  tag{i}: {'v' * 250}\n" for i in range(420))
    found = only_problem(write(tmp_path, MINIMAL + "tags:\n" + tags))
    assert found[:2] == ("(top level)", 1)
    assert found[2].startswith("the manifest is 11") and "characters as JSON, at most 100000 (it is recorded in an MLflow tag" in found[2]


def test_the_json_schema_carries_the_length_limits() -> None:
    validator = jsonschema.Draft202012Validator(manifest_json_schema())
    full = yaml.safe_load(FULL)
    for manifest in (
        {**full, "description": "x" * 5001},
        {**full, "owners": ["o" * 257]},
        {**full, "requirements": [f"{'p' * 300}==1.0"]},
        {**full, "datasets": [{"path": "d" * 201, "role": "eval"}]},
    ):
        assert list(validator.iter_errors(manifest)), manifest


# Symbolic links out of the agent folder are refused like '..' (issue 12, item 7).


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the agent's, holding what must never be packaged."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "creds.txt").write_text("password=hunter2\n")
    (folder / "agent.py").write_text("class Agent:\n    def act(self, request):\n        return {}\n")
    (folder / "schema.json").write_text("{}")
    return folder


def test_an_entrypoint_linked_out_of_the_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    agent = tmp_path / "agent"
    path = write(agent, MINIMAL, code=False)
    (agent / "agent.py").symlink_to(outside / "agent.py")
    expected = f"agent.py leads out of the agent folder through a symbolic link (to {outside / 'agent.py'}); copy the file into {agent}"
    assert only_problem(path) == ("entrypoint", 5, expected)


def test_a_prompt_or_tool_schema_linked_out_of_the_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    agent = tmp_path / "agent"
    text = MINIMAL + (
        "connectors:\n  - {name: helpdesk, kind: zendesk, scopes: ['*']}\n"
        "prompts:\n  - {name: system, path: prompts/creds.txt}\n"
        "tools:\n  - {connector: helpdesk, action: create, schema: schema.json}\n"
    )
    path = write(agent, text)
    (agent / "prompts").symlink_to(outside, target_is_directory=True)  # a folder on the way is a link
    (agent / "schema.json").symlink_to(outside / "schema.json")
    found = problems_of(path)
    assert [(field, line) for field, line, _ in found] == [("prompts[0].path", 11), ("tools[0].schema", 13)]
    assert found[0][2] == f"prompts/creds.txt leads out of the agent folder through a symbolic link (to {outside / 'creds.txt'}); copy the file into {agent}"
    assert "schema.json leads out of the agent folder" in found[1][2]


def test_links_that_stay_in_the_folder_are_fine(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    path = write(agent, MINIMAL.replace("agent.py:Agent", "main.py:Agent") + "prompts:\n  - {name: system, path: current.txt}\n")
    (agent / "main.py").symlink_to("agent.py")
    (agent / "v2.txt").write_text("prompt")
    (agent / "current.txt").symlink_to(agent / "v2.txt")
    assert load_manifest(path).prompts[0].path == "current.txt"


TOOLS = MINIMAL + """\
connectors:
  - name: helpdesk
    kind: sqlite
    scopes: ["tickets:write"]
    config:
      path_env: HELPDESK_DB
      retries: 3
tools:
  - {connector: helpdesk, action: create_ticket, schema: create.json, scope: "tickets:write", stub: {id: 0}, timeout_s: 2}
  - {connector: helpdesk, action: find, schema: create.json, scope: "tickets:read", side_effects: false}
  - {connector: helpdesk, action: legacy, schema: create.json}
"""


def test_tools_declare_scope_side_effects_stub_and_timeout_and_side_effects_default_to_true(tmp_path: Path) -> None:
    path = write(tmp_path, TOOLS)
    (tmp_path / "create.json").write_text('{"type": "object"}')
    manifest = load_manifest(path)
    create, find, legacy = manifest.tools
    assert (create.scope, create.side_effects, create.stub, create.timeout_s) == ("tickets:write", True, {"id": 0}, 2.0)
    assert (find.side_effects, legacy.scope, legacy.side_effects, legacy.stub) == (False, None, True, None)
    assert manifest.connectors[0].config == {"path_env": "HELPDESK_DB", "retries": 3}


@pytest.mark.parametrize(
    ("replace", "field", "message"),
    [
        ("timeout_s: 2", "timeout_s: 900", "less than or equal to 300"),
        ("      retries: 3", "      Retries: 3", "expected a lowercase key"),
        ("      retries: 3", "      token: Bearer abcdefghijklmnopqrstu", "looks like a credential (bearer)"),
        ("side_effects: false", "side_effects: maybe", "valid boolean"),
    ],
)
def test_wrong_tool_and_connector_settings_are_named(tmp_path: Path, replace: str, field: str, message: str) -> None:
    path = write(tmp_path, TOOLS.replace(replace, field))
    (tmp_path / "create.json").write_text('{"type": "object"}')
    assert any(message in found for _, _, found in problems_of(path)), problems_of(path)
