"""The example plugin from docs/writing-plugins.md, installed as the README says,
blocks a promotion whose agent leaks personal data, passes a clean one, and
fails closed when an operator blocks it (sqlite backend)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from tests.registry.conftest import EXAMPLE_AGENT

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "agentgov-pii-policy"
POLICY = "no-pii-in-outputs"
BLOCK = {"AGENTGOV_PLUGINS_BLOCK": "agentgov-pii-policy"}

LEAKY_ROUTER = (EXAMPLE_AGENT / "router.py").read_text().replace(
    'return {"action": action, "confidence": confidence}',
    'return {"action": action, "confidence": confidence, "reply": "Write to jane.doe@example.com" if action == "refund" else "Thanks"}',
)


def _versions(run_cli, name: str) -> dict[int, tuple[str, list[str]]]:
    listed = json.loads(run_cli("versions", name, "--json", check=True).stdout)
    return {v["version"]: (v["stage"], v["aliases"]) for v in listed}


def test_the_example_plugin_is_installed() -> None:
    found = {ep.name: ep.dist.name for ep in entry_points(group="agentgov") if ep.dist}
    assert found.get("pii-policy") == "agentgov-pii-policy", (
        "install the example plugin as README.md 'Set up and run' says: pip install -e examples/agentgov-pii-policy"
    )


def test_the_examples_own_tests_pass() -> None:
    # Its unit tests; its end-to-end test is the one below, run here against the real CLI.
    command = [sys.executable, "-m", "pytest", "-q", "--ignore=tests/test_end_to_end.py"]
    result = subprocess.run(command, cwd=EXAMPLE, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_blocks_a_leaking_agent_passes_a_clean_one_and_fails_closed_when_blocked(
    agentgov_home, agent_dir: Path, agent_name: str, run_cli, default_mode: None
) -> None:
    """In the default mode; a command with a block list in its environment is never answered by a control plane
    started without it."""
    router = agent_dir / "router.py"
    clean = router.read_text()
    assert LEAKY_ROUTER != clean, "the example router changed; update LEAKY_ROUTER"
    router.write_text(LEAKY_ROUTER)
    run_cli("register", str(agent_dir), check=True)  # version 1 leaks an e-mail address on refunds
    router.write_text(clean)
    run_cli("register", str(agent_dir), check=True)  # version 2 does not
    Path("agentgov.toml").write_text(f'[stages.shadow.policies.{POLICY}]\nrequests = "evals/requests.jsonl"\n')
    Path("evals").mkdir()
    Path("evals/requests.jsonl").write_text(
        json.dumps({"subject": "Invoice", "body": "Where is my invoice?"}) + "\n"
        + json.dumps({"subject": "Charged twice", "body": "Please refund me."}) + "\n"
    )

    listed = json.loads(run_cli("policies", "list", "--json", check=True).stdout)
    [entry] = [p for p in listed["policies"] if p["name"] == POLICY]
    assert (entry["plugin"], entry["enabled_by_default"], entry["in_force"]) == ("pii-policy", False, ["shadow (enforce)"])

    blocked = run_cli("promote", agent_name, "1", "--to", "shadow", env={"COLUMNS": "300"})  # no wrapped cells
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, output
    assert POLICY in output and "FAIL" in output
    assert "requests.jsonl line 2: e-mail address in $.reply (j***@***.com)" in output
    assert "jane.doe" not in output
    assert _versions(run_cli, agent_name) == {1: ("candidate", []), 2: ("candidate", [])}

    passed = run_cli("promote", agent_name, "2", "--to", "shadow")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "no personal data in the responses to 2 request(s)" in passed.stdout

    without = json.loads(run_cli("policies", "list", "--json", env=BLOCK, check=True).stdout)
    assert POLICY not in [p["name"] for p in without["policies"]]
    assert without["configured_but_missing"] == [POLICY]
    refused = run_cli("promote", agent_name, "1", "--to", "shadow", "--json", env=BLOCK)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    decision = json.loads(refused.stdout)["decision"]
    assert decision["outcome"] == "blocked"
    [result] = decision["results"]
    assert (result["policy"], result["status"]) == (POLICY, "error")
    assert result["reason"].startswith(f"no loaded plugin provides policy '{POLICY}'")
    assert _versions(run_cli, agent_name) == {1: ("candidate", []), 2: ("shadow", ["shadow"])}


def _doc_blocks() -> list[tuple[str, str, str]]:
    text = (REPO / "docs" / "writing-plugins.md").read_text()
    return [(m.group(1), *m.group(2).split("\n", 1)) for m in re.finditer(r"```(python|toml)\n(.*?)```", text, re.S)]


def test_every_code_block_of_the_guide_is_in_the_example_package() -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 10
    for language, first, body in blocks:
        assert first.startswith("# "), f"a {language} block in docs/writing-plugins.md does not name its file: {first!r}"
        source = first[2:]
        if source == "agentgov.toml":
            import tomllib

            from agentgov_pii_policy import NoPiiInOutputs

            configured = tomllib.loads(body)["stages"]["production"]["policies"]["no-pii-in-outputs"]
            assert set(configured) - {"mode", "required", "timeout_s"} <= set(NoPiiInOutputs.parameters)
            continue
        assert body in (EXAMPLE / source).read_text(), f"docs/writing-plugins.md's block from {source} no longer matches the file"
