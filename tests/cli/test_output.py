"""What the command line prints for people: user and policy text exactly as written, and counted nouns."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from agentgov.cli.output import print_table
from agentgov.core.home import Home

Run = Callable[..., subprocess.CompletedProcess[str]]
MARKUP = "[bold]x[/bold]"
CONFIG_HINT = "(configure [stages.shadow.policies] in agentgov.toml)"


def test_a_table_prints_square_brackets_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(("Who", "Why"), [(MARKUP, f"no policy guards shadow: allowed {CONFIG_HINT}")], title=f"Title {MARKUP}")
    out = capsys.readouterr().out
    assert out.count(MARKUP) == 2 and CONFIG_HINT in out


def test_history_prints_the_decisions_text_as_promote_did(run_cli: Run, agentgov_home: Home) -> None:
    log = agentgov_home.audit_log
    summary = f"no policy guards shadow: allowed {CONFIG_HINT}"
    log.append(actor="alice", action="decision", subject="markup-router/1", payload={"id": "d1", "outcome": "allowed", "summary": summary})
    log.append(
        actor=MARKUP, action="stage.change", subject="markup-router/1",
        payload={"agent": "markup-router", "version": 1, "from": "candidate", "to": "shadow", "decision_id": "d1"},
    )
    shown = run_cli("history", "markup-router", env={"COLUMNS": "400"})
    assert shown.returncode == 0, shown.stderr
    assert summary in shown.stdout and MARKUP in shown.stdout


def test_audit_show_prints_user_text_as_written(run_cli: Run, agentgov_home: Home) -> None:
    agentgov_home.audit_log.append(actor=MARKUP, action="note", subject="router/1", payload={"why": "[stages.shadow.policies]"})
    shown = run_cli("audit", "show", env={"COLUMNS": "400"}, check=True).stdout
    assert MARKUP in shown and "[stages.shadow.policies]" in shown


def test_counted_nouns_agree_with_the_count() -> None:
    from agentgov.cli.output import plural

    assert [plural(n, "dataset") for n in (0, 1, 2)] == ["0 datasets", "1 dataset", "2 datasets"]
    assert plural(1, "policy", "policies") == "1 policy" and plural(3, "policy", "policies") == "3 policies"


def test_registration_lines_count_datasets_in_the_singular(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from agentgov.cli.main import cli  # noqa: F401 - the command modules import the group
    from agentgov.cli.registry_commands import _say_data_validation
    from agentgov.registry.model import AgentVersion

    tags = {"agentgov.lineage.git_commit": "abc", "agentgov.lineage.dataset.data/a.csv": "0f"}
    version = AgentVersion(name="r", version=1, stage=None, status="ready", aliases=(), source="", created_at=0, tags=tags)
    assert version.lineage_summary() == "abc, 1 dataset"
    _say_data_validation(json.dumps({"passed": True, "suites": {"data/a.csv": {"passed": True}}}))
    _say_data_validation(json.dumps({"passed": False, "suites": {"data/a.csv": {"passed": False, "failed_expectations": 1, "evaluated": 1}}, "report": "r.json"}))
    out = capsys.readouterr().out
    assert "Data validation passed (1 dataset)." in out and "1 of 1 expectation failed" in out


def test_a_decision_names_its_outcome_in_lower_case_like_history(capsys: pytest.CaptureFixture[str]) -> None:
    from agentgov.cli.main import cli  # noqa: F401 - the command modules import the group
    from agentgov.cli.policy_commands import print_decision
    from agentgov.core.types import Decision

    decision = Decision.from_dict(
        {"id": "d1", "agent": {"name": "r", "version": 1}, "target": "shadow", "outcome": "allowed", "summary": "no policy guards shadow: allowed",
         "results": [], "actor": "alice", "at": "2026-11-24T14:00:00+00:00", "config_hash": "0" * 64}
    )
    print_decision(decision)
    print_decision(decision, dry_run=True)
    out = capsys.readouterr().out
    assert "r/1 -> shadow: allowed\n" in out and "r/1 -> shadow: allowed (dry run)\n" in out and "ALLOWED" not in out
