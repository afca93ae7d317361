"""CI must install and test exactly as the README tells people to."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
CI = (REPO / ".ci" / "run").read_text()


def _section_commands(heading: str) -> list[str]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"README section {heading!r} has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_ci_installs_exactly_as_the_readme_says() -> None:
    install = _section_commands("Set up and run")[0]
    assert install in CI.splitlines()


def test_ci_runs_the_readmes_test_command() -> None:
    [test_command] = _section_commands("Test")
    assert test_command in CI.splitlines()


def test_the_readme_documents_every_command() -> None:
    from agentgov.cli.main import cli

    for name in cli.commands:
        assert f"`agentgov {name}" in README, f"README does not mention agentgov {name}"
