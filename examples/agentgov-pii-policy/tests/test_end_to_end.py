"""End to end: a real registry in a fresh agentgov home, the real ``agentgov`` command, the installed plugin."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

AGENT_YAML = """\
name: leaky-helper
description: Answers refund questions, and gives away a colleague's e-mail address.
owners: [support@example.com]
risk_tier: low
entrypoint: helper.py:Helper
example_request:
  subject: Refund
  body: Where is my money?
"""

HELPER = """\
class Helper:
    def act(self, request):
        return {"reply": "Ask jane.doe@example.com about refunds."}
"""


def agentgov(*args: str) -> subprocess.CompletedProcess[str]:
    command = shutil.which("agentgov", path=str(Path(sys.executable).parent)) or "agentgov"
    return subprocess.run([command, *args], capture_output=True, text=True, timeout=300)


def test_blocks_the_promotion_of_an_agent_that_leaks_an_email(agentgov_home, tmp_path: Path) -> None:
    installed = [ep for ep in entry_points(group="agentgov") if ep.value == "agentgov_pii_policy"]
    assert installed, "install the plugin first: pip install -e ."
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.yaml").write_text(AGENT_YAML)
    (agent / "helper.py").write_text(HELPER)
    # agentgov_home made a fresh project folder the working directory: its agentgov.toml turns the policy on.
    Path("agentgov.toml").write_text("[stages.shadow.policies.no-pii-in-outputs]\n")

    registered = agentgov("register", str(agent))
    assert registered.returncode == 0, registered.stderr
    promoted = agentgov("promote", "leaky-helper", "1", "--to", "shadow", "--json")
    assert promoted.returncode == 1, promoted.stderr

    decision = json.loads(promoted.stdout)["decision"]
    [result] = decision["results"]
    assert (decision["outcome"], result["policy"], result["status"]) == ("blocked", "no-pii-in-outputs", "fail")
    assert result["evidence"] == ["example_request: e-mail address in $.reply (j***@***.com)"]
