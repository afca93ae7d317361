"""``agentgov plugins new``: the generated package tests green, builds, and its entry point loads as a plugin."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agentgov.core.errors import InvalidValue
from agentgov.policies.scaffold import scaffold


def _installed(project: Path, tmp_path: Path) -> dict[str, str]:
    """Build ``project``'s wheel as a release would and unpack it into a folder of its own:
    an install that the shared environment never sees."""
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(project)], check=True, capture_output=True, text=True)
    [wheel] = out.glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # a pure-Python wheel unpacked is an installed distribution
    return {"PYTHONPATH": str(site)}


def test_generates_a_plugin_whose_tests_pass_and_whose_entry_point_loads(agentgov_home, tmp_path: Path, run_cli) -> None:
    target = tmp_path / "plugins" / "acme-owners"
    made = run_cli("plugins", "new", "acme-owners", "--dir", str(target), check=True)
    assert f"Created plugin acme-owners in {target}:" in made.stdout
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        ".gitignore", "README.md", "pyproject.toml", "src/acme_owners/__init__.py", "tests/test_acme_owners.py",
    ]

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=target, capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout

    env = _installed(target, tmp_path)
    listed = {p["name"]: p for p in json.loads(run_cli("plugins", "list", "--json", env=env, check=True).stdout)}
    plugin = listed["acme-owners"]
    assert (plugin["status"], plugin["distribution"], plugin["provides"]) == ("loaded", "acme-owners", ["policy acme-owners"])
    policies = json.loads(run_cli("policies", "list", "--json", env=env, check=True).stdout)["policies"]
    [policy] = [p for p in policies if p["name"] == "acme-owners"]
    assert (policy["enabled_by_default"], policy["in_force"], list(policy["parameters"])) == (False, [], ["min_owners"])


def test_an_empty_existing_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    made = scaffold("acme-owners", tmp_path / "empty")
    assert (made.root / "src" / "acme_owners" / "__init__.py").is_file()


def test_refuses_a_folder_that_is_not_empty_and_changes_nothing(agentgov_home, tmp_path: Path, run_cli) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = run_cli("plugins", "new", "acme-owners", "--dir", str(target))
    assert result.returncode == 2
    assert result.stderr == f"agentgov: error: {target} already exists and is not an empty folder; choose another --dir\n"
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_without_dir_it_creates_a_folder_named_after_the_plugin(agentgov_home, run_cli) -> None:
    run_cli("plugins", "new", "acme-freeze", check=True)
    assert Path("acme-freeze/src/acme_freeze/__init__.py").is_file()
    assert 'acme-freeze = "acme_freeze"' in Path("acme-freeze/pyproject.toml").read_text()


@pytest.mark.parametrize("name", ["Acme", "acme_owners", "1acme", "acme-", "-acme", "acme--owners", "acme owners", "import", "json", "agentgov", "x" * 64])
def test_refuses_invalid_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="invalid plugin name"):
        scaffold(name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_invalid_name_is_a_one_line_error(agentgov_home, run_cli) -> None:
    result = run_cli("plugins", "new", "Acme_Owners")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("agentgov: error: invalid plugin name 'Acme_Owners'") and result.stderr.count("\n") == 1
    assert not Path("Acme_Owners").exists()


def test_the_old_spelling_plugin_new_still_works_with_a_note_and_is_hidden(agentgov_home, run_cli) -> None:
    made = run_cli("plugin", "new", "acme-freeze", check=True)
    assert made.stderr == "agentgov: note: `agentgov plugin new` is now `agentgov plugins new`; the old spelling goes in the next release\n"
    assert "Created plugin acme-freeze in acme-freeze:" in made.stdout
    assert Path("acme-freeze/src/acme_freeze/__init__.py").is_file()
    assert not re.search(r"^\s+plugin\s", run_cli("--help", check=True).stdout, re.MULTILINE)  # hidden: only `plugins` is listed

