"""``agentgov config show`` answers what the commands will use, and where each value was written."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from agentgov.core.config import DEFAULT_CONFIG_TEXT, Config

Run = Callable[..., subprocess.CompletedProcess[str]]


def _shown(run_cli: Run) -> dict[str, dict[str, str]]:
    return {row["setting"]: row for row in json.loads(run_cli("config", "show", "--json", check=True).stdout)}


def test_a_stage_configured_only_through_its_policies_cites_their_line(run_cli: Run, agentgov_config: Config) -> None:
    text = DEFAULT_CONFIG_TEXT + "\n[stages.production.policies.human-approval]\nttl = \"7d\"\n\n[stages.shadow]\ntimeout_s = 5\n"
    Path("agentgov.toml").write_text(text)
    lines = text.splitlines()
    shown = _shown(run_cli)
    assert shown["stages.production"]["source"] == f"agentgov.toml, line {lines.index('[stages.production.policies.human-approval]') + 1}"
    assert shown["stages.shadow"]["source"] == f"agentgov.toml, line {lines.index('[stages.shadow]') + 1}"


def test_the_prefect_api_is_the_running_agentgov_server(run_cli: Run, agentgov_config: Config) -> None:
    from agentgov.pipelines import server as local
    from agentgov.pipelines.runtime import free_port

    assert (_shown(run_cli)["prefect.api_url"]["value"], _shown(run_cli)["prefect.api_url"]["source"]) == ("(embedded)", "default (embedded)")
    started = local.start(agentgov_config, port=free_port())
    try:
        row = _shown(run_cli)["prefect.api_url"]
        assert (row["value"], row["source"]) == (started.api_url, "agentgov server (running for this home)")
        assert started.api_url in run_cli("config", "show", env={"COLUMNS": "200"}, check=True).stdout
        row = json.loads(run_cli("config", "show", "--json", env={"PREFECT_API_URL": "http://elsewhere:4200/api"}, check=True).stdout)
        assert {r["setting"]: r["value"] for r in row}["prefect.api_url"] == "http://elsewhere:4200/api"  # configured wins, as in the flows
    finally:
        local.stop(agentgov_config)
