"""The README's walkthrough, run exactly as printed: a fresh home, a clone holding a copy of the example agent.

The commands are read out of README.md's "Set up and run" section, so the
README and this test cannot drift apart. Only the first command (creating the
virtual environment and installing) is skipped: this test runs in it, reached
through ``.venv/bin/agentgov`` in the clone, a link to the installed command.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from agentgov.core.home import Home

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "support-router"


def walkthrough() -> list[str]:
    """Every command line of the bash blocks of "Set up and run", in order."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Set up and run\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def _clone(root: Path) -> None:
    """What a clone needs for the walkthrough: the example agent (code and manifest), the ignore file, one commit."""
    target = root / "examples" / "support-router"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "data"))
    manifest = target / "agent.yaml"  # without datasets a user may have versioned in this clone (`agentgov data add`)
    manifest.write_text(re.sub(r"^datasets:.*?(?=^\S|\Z)", "", manifest.read_text(), flags=re.M | re.S))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "clone"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_the_walkthrough_runs_as_printed_and_every_command_succeeds(agentgov_home: Home, default_mode: None) -> None:
    """In the default mode, as a reader runs it: the first command starts the home's control plane."""
    commands = walkthrough()
    assert commands[0].startswith("python3 -m venv .venv && "), commands[0]
    clone = Path.cwd()  # agentgov_home's project folder, with AGENTGOV_HOME set to a fresh home beside it
    _clone(clone)
    (clone / ".venv" / "bin").mkdir(parents=True)
    installed = shutil.which("agentgov", path=str(Path(sys.executable).parent))
    assert installed, "the agentgov command is not installed in this environment; install as the README says"
    (clone / ".venv" / "bin" / "agentgov").symlink_to(installed)

    outputs = []
    for command in commands[1:]:
        done = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True, text=True, timeout=300)
        outputs.append(done.stdout)
        assert done.returncode == 0, f"{command}\nexited {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{command}\n{done.stderr}"
    assert any("(rollback)" in out for out in outputs)  # the history shows the rollback the walkthrough made
