"""Keep the public API honest: each public package's ``__all__`` is what docs/plugin-hooks.md lists,
and every plugin agentgov ships or shows (built-in, example, generated) imports nothing else."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentgov.policies.scaffold import scaffold

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "plugin-hooks.md"
PUBLIC = ("agentgov.core", "agentgov.registry", "agentgov.registry.runtime", "agentgov.data", "agentgov.policies", "agentgov.evals", "agentgov.deploy")
HEAVY = ("mlflow", "prefect", "evidently", "great_expectations", "bentoml", "dvc", "pandas")
EXAMPLES = (REPO / "examples" / "agentgov-pii-policy", REPO / "examples" / "agentgov-notify-file")


def exported(package: str) -> list[str]:
    return list(getattr(importlib.import_module(package), "__all__", []))


def documented() -> dict[str, list[str]]:
    """Names in the first column of each ``### `agentgov.X``` table under "The public API"."""
    section = DOC.read_text(encoding="utf-8").split("\n## The public API\n", 1)[1].split("\n## ", 1)[0]
    found: dict[str, list[str]] = {}
    for heading, body in re.findall(r"^### `([\w.]+)`\n(.*?)(?=^### |\Z)", section, re.MULTILINE | re.DOTALL):
        found[heading] = re.findall(r"^\| `([^`]+)` \|", body, re.MULTILINE)
    return found


def plugin_sources(tmp: Path) -> Iterator[tuple[Path, str | None]]:
    """Every module of a plugin agentgov ships or shows, with the package its own imports may name."""
    for path in sorted((REPO / "plugins").rglob("*.py")):
        own = ".".join(("agentgov", *path.relative_to(REPO).parts[:2]))  # agentgov.plugins.policies
        yield path, own
    for example in EXAMPLES:
        for path in sorted(example.rglob("*.py")):
            if "egg-info" not in str(path) and "build" not in path.relative_to(example).parts:
                yield path, None
    generated = scaffold("acme-owners", tmp / "acme-owners")
    for relative in generated.files:
        if relative.endswith(".py"):
            yield generated.root / relative, None


def non_public_imports(path: Path, own: str | None) -> list[str]:
    """``from agentgov.X import name`` with X public and name in its ``__all__``; nothing else of agentgov."""
    wrong = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("agentgov.") and alias.name not in PUBLIC and not (own and alias.name.startswith(own)):
                    wrong.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (node.module == "agentgov" or node.module.startswith("agentgov.")):
            if own and (node.module == own or node.module.startswith(own + ".")):
                continue  # a plugin package's own modules, as a third-party plugin imports its own
            if node.module not in PUBLIC:
                wrong.append(f"line {node.lineno}: from {node.module} import ...")
                continue
            public = exported(node.module)
            wrong += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names if a.name not in public]
    return wrong


@pytest.mark.parametrize("package", PUBLIC)
def test_every_public_name_is_documented_and_every_documented_name_is_public(package: str) -> None:
    names = exported(package)
    listed = documented().get(package, [])
    assert sorted(set(names) - set(listed)) == [], f"in {package}.__all__ but not under ### `{package}` in docs/plugin-hooks.md"
    assert sorted(set(listed) - set(names)) == [], f"documented under ### `{package}` in docs/plugin-hooks.md but not in {package}.__all__"
    module = importlib.import_module(package)
    assert [n for n in names if not hasattr(module, n)] == [], f"{package}.__all__ names something it does not define"


def test_the_docs_list_only_public_packages() -> None:
    assert set(documented()) <= set(PUBLIC)
    assert {"agentgov.core", "agentgov.policies", "agentgov.evals", "agentgov.deploy"} <= set(documented())


def test_builtin_example_and_generated_plugins_import_only_public_names(tmp_path: Path) -> None:
    wrong = {}
    checked = 0
    for path, own in plugin_sources(tmp_path):
        checked += 1
        problems = non_public_imports(path, own)
        if problems:
            wrong[str(path.relative_to(REPO) if path.is_relative_to(REPO) else path.name)] = problems
    assert checked > 20
    assert wrong == {}


def test_the_check_itself_catches_a_submodule_and_a_private_name(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "from agentgov.core import hookimpl\n"
        "from agentgov.core.hookspecs import Register\n"
        "from agentgov.core import PluginManager\n"
        "def f():\n    import agentgov.policies.gate\n"
    )
    assert non_public_imports(plugin, None) == [
        "line 2: from agentgov.core.hookspecs import ...",
        "line 3: from agentgov.core import PluginManager",
        "line 5: import agentgov.policies.gate",
    ]


def test_importing_the_public_packages_imports_no_heavy_library() -> None:
    probe = f"import sys\nimport {', '.join(PUBLIC)}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout == "\n"
