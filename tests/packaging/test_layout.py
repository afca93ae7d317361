"""The wheel's package list must match the folders on disk, so no sub-package is ever left out."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
ENGINE_FOLDERS = {"core", "plugins", "pipelines", "registry", "policies", "evals", "deploy", "cli"}
# agentgov-demo: what `agentgov demo` makes in the clone (the README's first command; ignored by git).
NOT_PACKAGES = {"tests", "examples", "benchmarks", "docs", "build", "dist", "agentgov-demo"}


def _packages_on_disk() -> set[str]:
    found = set()
    for folder in sorted(p for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name in NOT_PACKAGES or folder.name.endswith(".egg-info"):
            continue
        for init in folder.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(REPO)
            found.add(".".join(("agentgov", *relative.parts)))
    return found


def test_every_engine_folder_is_a_package() -> None:
    assert {p for p in _packages_on_disk() if p.count(".") == 1} >= {f"agentgov.{f}" for f in ENGINE_FOLDERS}


def test_packaged_list_equals_the_packages_on_disk() -> None:
    assert set(SETUPTOOLS["packages"]) == _packages_on_disk()


def test_each_top_level_package_maps_to_its_folder() -> None:
    top_level = {p for p in SETUPTOOLS["packages"] if p.count(".") == 1}
    assert SETUPTOOLS["package-dir"] == {p: p.split(".", 1)[1] for p in top_level}


def test_every_folder_with_python_code_has_an_init() -> None:
    for package in SETUPTOOLS["packages"]:
        folder = REPO.joinpath(*package.split(".")[1:])
        for python in folder.rglob("*.py"):
            if "__pycache__" not in python.parts:
                assert (python.parent / "__init__.py").is_file(), f"{python.parent} holds code but no __init__.py"


def test_agentgov_itself_is_a_namespace_with_no_folder_of_its_own() -> None:
    # A folder named agentgov/ at the root would shadow the installed namespace.
    assert not (REPO / "agentgov").exists()
