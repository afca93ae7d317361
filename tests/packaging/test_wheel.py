"""Build the wheel and run the ``agentgov`` it installs in a fresh virtual environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".agentgov", ".ruff_cache")
    shutil.copytree(REPO, source, dirs_exist_ok=True, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        # Build isolation, as a release build would: the build backend comes from pyproject.toml.
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True, text=True,
    )
    [built] = out.glob("agentgov-*.whl")
    return built


def test_the_wheel_holds_every_package_and_the_entry_points(wheel: Path) -> None:
    import tomllib

    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    for package in packages:
        assert f"{package.replace('.', '/')}/__init__.py" in names, f"{package} is missing from the wheel"
    assert "agentgov/__init__.py" not in names  # agentgov is a namespace
    assert not [n for n in names if n.startswith("tests/") or n.startswith("examples/")]
    assert "agentgov = agentgov.cli.main:main" in text
    assert "[pytest11]" in text


def test_a_fresh_venv_with_the_wheel_gets_a_working_agentgov(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    # The wheel's dependencies are big and already installed here: lend them through a .pth
    # (a plain path line, so this environment's editable agentgov is not imported).
    purelib = Path(sysconfig.get_paths()["purelib"])
    fresh_purelib = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (fresh_purelib / "zz_lent_dependencies.pth").write_text(f"{purelib}\n")

    where = subprocess.check_output([str(python), "-c", "import agentgov.core; print(agentgov.core.__file__)"], text=True).strip()
    assert Path(where).is_relative_to(fresh_purelib), where

    agentgov = env_dir / "bin" / "agentgov"
    project = tmp_path / "project"
    project.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AGENTGOV_USER": "wheel-test"}
    help_text = subprocess.run([str(agentgov), "--help"], cwd=project, env=env, check=True, capture_output=True, text=True).stdout
    assert "Usage: agentgov" in help_text
    subprocess.run([str(agentgov), "init"], cwd=project, env=env, check=True, capture_output=True, text=True)
    assert (project / "agentgov.toml").is_file()
    listed = subprocess.run([str(agentgov), "plugins", "list", "--json"], cwd=project, env=env, check=True, capture_output=True, text=True)
    assert "log-events" in {p["name"] for p in json.loads(listed.stdout)}
    verified = subprocess.run([str(agentgov), "audit", "verify"], cwd=project, env=env, check=True, capture_output=True, text=True)
    assert "Audit log OK: 1 record," in verified.stdout
