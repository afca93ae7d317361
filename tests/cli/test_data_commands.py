"""``agentgov data ...`` as a user runs it: a real subprocess, real DVC and Great Expectations, nothing else on stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.home import Home

Run = Callable[..., subprocess.CompletedProcess[str]]
EXAMPLE_AGENT = Path(__file__).resolve().parents[2] / "examples" / "support-router"
ROWS = "subject,body,label\nInvoice,where is it,billing\nRefund,charged twice,refund\nCrash,app dies,technical\nInvoice,copy please,billing\n"


@pytest.fixture
def agent(agentgov_home: Home, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE_AGENT, repo / "router", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "router" / "data").mkdir(exist_ok=True)
    (repo / "router" / "data" / "eval.csv").write_text(ROWS)
    return repo / "router"


def test_add_status_profile_and_validate_round_trip_quietly(run_cli: Run, agent: Path, agentgov_home: Home) -> None:
    added = run_cli("data", "add", str(agent / "data" / "eval.csv"), "--agent", str(agent), "--role", "eval", "--suite", "suites/eval.json", check=True)
    assert "Listed data/eval.csv (eval) at md5" in added.stdout and added.stderr == ""
    [record] = [r for r in agentgov_home.audit_log.records() if r.action == "data.add"]
    assert record.subject == "support-router" and record.payload["path"] == "data/eval.csv" and record.actor == "test-user"

    profiled = run_cli("data", "profile", str(agent / "data" / "eval.csv"), "--suite", "eval", "--out", str(agent / "suites" / "eval.json"), check=True)
    assert "expectations proposed from" in profiled.stdout and profiled.stderr == ""

    [state] = json.loads(run_cli("data", "status", "--agent", str(agent), "--json", check=True).stdout)
    assert (state["path"], state["state"], state["suite"]) == ("data/eval.csv", "ok", "suites/eval.json")

    passed = run_cli("data", "validate", "--agent", str(agent))
    assert passed.returncode == 0 and passed.stderr == "", passed.stderr  # no tqdm bar, log line or warning from GE
    assert "data/eval.csv against suites/eval.json: passed" in passed.stdout

    with (agent / "data" / "eval.csv").open("a") as f:
        f.write("Spam,buy now,spam\n")
    assert json.loads(run_cli("data", "status", "--agent", str(agent), "--json").stdout)[0]["state"] == "modified"
    failed = run_cli("data", "validate", "data/eval.csv", "--agent", str(agent))
    assert failed.returncode == 1 and failed.stderr == "", failed.stderr
    assert "FAILED" in failed.stdout and "Failing expectations" in failed.stdout
    assert "expect_column_values_to_be_in_set" in failed.stdout and "spam" in failed.stdout
    html = Path(failed.stdout.split("Report: ", 1)[1].strip())
    assert html.is_file() and html.parent.parent.name == "validation"
    report = json.loads(html.with_suffix(".json").read_text())
    assert report["passed"] is False
    labels = [f for f in report["results"][0]["failed"] if f["column"] == "label"]
    assert labels[0]["examples"] == ["spam"] and labels[0]["unexpected_share"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "eval.csv: empty file, no header and no rows"),
        ("subject,body\nInvoice,x\n", "eval.csv: missing column label that the suite 'eval' expects"),
        ("subject,body,label\n", "eval.csv: no rows, only the header (subject, body, label)"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_code_2(run_cli: Run, agent: Path, content: str, message: str) -> None:
    from agentgov.data.contracts import profile, write_suite

    write_suite(profile(agent / "data" / "eval.csv", "eval"), agent / "suites" / "eval.json")
    with (agent / "agent.yaml").open("a") as f:
        f.write("datasets:\n  - path: data/eval.csv\n    role: eval\n    suite: suites/eval.json\n")
    (agent / "data" / "eval.csv").write_text(content)
    result = run_cli("data", "validate", "--agent", str(agent))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("agentgov: error: ") and message in result.stderr and result.stderr.count("\n") == 1


def test_checkout_of_an_unknown_agent_folder_or_version_is_a_clear_error(run_cli: Run, agent: Path) -> None:
    result = run_cli("data", "checkout", "someone-else", "1", "--agent", str(agent))
    assert result.returncode == 2 and "is agent 'support-router', not 'someone-else'" in result.stderr
    result = run_cli("data", "add", str(agent / "data"), "--agent", str(agent))
    assert result.returncode == 2 and "is a directory" in result.stderr
