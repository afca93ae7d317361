"""Datasets in a throw-away git repository holding a copy of the example agent, with a fresh agentgov home."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from agentgov.core.home import Home

from ..conftest import manifest_name

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_AGENT = REPO / "examples" / "support-router"
DVC = str(Path(sys.executable).parent / "dvc")

EVAL_CSV = (
    "subject,body,label,score\n"
    "Invoice,where is my invoice,billing,0.5\n"
    "Refund,I was charged twice,refund,0.9\n"
    "Crash,the app crashes on start,technical,0.7\n"
    "Invoice,please send a copy,billing,0.4\n"
    "Angry,I want a manager now,escalation,0.8\n"
)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def git_repo(agentgov_home: Home, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("config", "user.email", "test@example.com", cwd=repo)
    git("config", "user.name", "test", cwd=repo)
    return repo


@pytest.fixture
def agent(git_repo: Path) -> Path:
    """A copy of the example agent's code and manifest, named uniquely, inside the git repository, with data/eval.csv (untracked)."""
    target = git_repo / "agents" / "router"
    # Without the example's data/ and datasets: a user may have versioned them (`agentgov data add`) in this clone.
    shutil.copytree(EXAMPLE_AGENT, target, ignore=shutil.ignore_patterns("__pycache__", "data"))
    manifest = target / "agent.yaml"
    text = re.sub(r"^datasets:.*?(?=^\S|\Z)", "", manifest.read_text(), flags=re.M | re.S)
    manifest.write_text(text.replace("name: support-router", f"name: router-{uuid.uuid4().hex[:8]}"))
    (target / "data").mkdir()
    (target / "data" / "eval.csv").write_text(EVAL_CSV)
    return target


@pytest.fixture
def agent_name(agent: Path) -> str:
    return manifest_name(agent)
