"""``agentgov manifest schema`` and ``agentgov manifest check``, run through click."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from agentgov.cli.manifest_commands import COMMANDS, manifest
from agentgov.registry.manifest import ManifestError

EXAMPLE_AGENT = Path(__file__).resolve().parents[2] / "examples" / "support-router"


def agent(tmp_path: Path) -> Path:
    """The example's code and manifest, without the datasets a user may have versioned in this clone (`agentgov data add`)."""
    target = tmp_path / "agent"
    shutil.copytree(EXAMPLE_AGENT, target, ignore=shutil.ignore_patterns("__pycache__", "data"))
    manifest = target / "agent.yaml"
    manifest.write_text(re.sub(r"^datasets:.*?(?=^\S|\Z)", "", manifest.read_text(), flags=re.M | re.S))
    return target


def test_the_group_is_exported() -> None:
    assert COMMANDS == (manifest,)
    assert set(manifest.commands) == {"schema", "check"}


def test_schema_prints_the_json_schema() -> None:
    result = CliRunner().invoke(manifest, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert "entrypoint" in schema["required"]


def test_check_accepts_a_folder_or_its_agent_yaml(tmp_path: Path) -> None:
    folder = agent(tmp_path)
    for target in (folder, folder / "agent.yaml"):
        result = CliRunner().invoke(manifest, ["check", str(target)])
        assert result.exit_code == 0, result.output
        assert result.output == "OK: support-router (1 connector, 0 datasets)\n"


def test_check_counts_connectors_and_datasets(tmp_path: Path) -> None:
    folder = agent(tmp_path)
    path = folder / "agent.yaml"
    path.write_text(
        path.read_text()
        + "datasets:\n  - {path: data/train.csv, role: train}\n  - {path: data/eval.csv, role: eval}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(manifest, ["check", str(folder)])
    assert result.output == "OK: support-router (1 connector, 2 datasets)\n"


def test_check_raises_the_manifest_error_with_one_line_per_problem(tmp_path: Path) -> None:
    folder = agent(tmp_path)
    path = folder / "agent.yaml"
    text = path.read_text().replace("risk_tier: medium", "risk_tier: extreme").replace('"tickets:write"', '"write"')
    path.write_text(text + "colour: blue\n", encoding="utf-8")

    result = CliRunner().invoke(manifest, ["check", str(folder)])

    assert result.exit_code != 0
    assert isinstance(result.exception, ManifestError)
    lines = str(result.exception).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["risk_tier", "connectors[0].scopes[1]", "colour"]
    assert lines[0].startswith(f"{path}, line 4: risk_tier: input should be")


def test_check_of_a_folder_without_a_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(manifest, ["check", str(tmp_path)])
    assert isinstance(result.exception, ManifestError)
    assert str(result.exception) == f"{tmp_path / 'agent.yaml'}, line 1: (file): no agent.yaml in {tmp_path}"


def test_importing_the_commands_imports_neither_pydantic_nor_yaml() -> None:
    probe = (
        "import sys\n"
        "import agentgov.cli.manifest_commands\n"
        "print(','.join(m for m in ('pydantic', 'yaml', 'agentgov.registry.manifest') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout == "\n"


def test_check_refuses_an_alias_bomb_and_a_huge_file_in_one_line_at_once(tmp_path: Path) -> None:
    import os
    import time

    from tests.conftest import agentgov_executable

    folder = agent(tmp_path)
    path = folder / "agent.yaml"
    levels = "".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 10))
    path.write_text(path.read_text() + "  l0: &l0 lol\n" + levels)  # under tags: the values are counted before any type is checked
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTGOV_")}
    started = time.monotonic()
    bomb = subprocess.run([agentgov_executable(), "manifest", "check", str(folder)], capture_output=True, text=True, timeout=60, env=env)
    assert time.monotonic() - started < 20  # it did not finish before
    assert bomb.returncode == 2 and bomb.stdout == ""
    assert bomb.stderr.count("\n") == 1 and bomb.stderr.startswith(f"agentgov: error: {path}, line ")
    assert "over 10,000 values once its aliases are expanded" in bomb.stderr

    path.write_text("name: support-router\n")
    with open(path, "ab") as f:
        f.truncate(200 << 20)
    huge = subprocess.run([agentgov_executable(), "manifest", "check", str(folder)], capture_output=True, text=True, timeout=60, env=env)
    assert huge.returncode == 2
    assert huge.stderr == f"agentgov: error: {path}, line 1: (file): the file is 209,715,200 bytes; a manifest may be at most 1 MiB (1,048,576 bytes)\n"
