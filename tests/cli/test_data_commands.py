"""``agentgov data ...`` as a user runs it: a real subprocess, real DVC and Great Expectations, nothing else on stderr."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentgov.core.home import Home

Run = Callable[..., subprocess.CompletedProcess[str]]
EXAMPLE_AGENT = Path(__file__).resolve().parents[2] / "examples" / "support-router"
ROWS = "subject,body,label\nInvoice,where is it,billing\nRefund,charged twice,refund\nCrash,app dies,technical\nInvoice,copy please,billing\n"


def without_datasets(manifest: str) -> str:
    """The example's manifest without a ``datasets:`` block: a user may have run ``agentgov data add`` on it."""
    return re.sub(r"^datasets:.*?(?=^\S|\Z)", "", manifest, flags=re.M | re.S)


@pytest.fixture
def agent(agentgov_home: Home, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE_AGENT, repo / "router", ignore=shutil.ignore_patterns("__pycache__", "data"))
    manifest = repo / "router" / "agent.yaml"
    manifest.write_text(without_datasets(manifest.read_text()))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "router" / "data").mkdir(exist_ok=True)
    (repo / "router" / "data" / "eval.csv").write_text(ROWS)
    return repo / "router"


def test_add_status_profile_and_validate_round_trip_quietly(
    run_cli: Run, agent: Path, agentgov_home: Home, monkeypatch: pytest.MonkeyPatch, default_mode: None
) -> None:
    """In the default mode: the commands go through the home's control plane, quiet all the same."""
    repo = agent.parent  # the dataset is committed to git, as the shipped example's is
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "data in git"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    added = run_cli("data", "add", "router/data/eval.csv", check=True)  # from the repository's root: the agent is found above the file
    # The one line on stderr is the first command's status line while it starts the control plane.
    assert added.stderr.splitlines() == [f"agentgov: starting the control plane for {agentgov_home.root} (once; --no-server skips it)"]
    assert added.stdout.splitlines() == [
        "data/eval.csv was in git: took it out of git's index (`git rm --cached`, the file stays) so that DVC versions it.",
        "Initialised DVC (commit its .dvc/ folder).",
        *[line for line in added.stdout.splitlines() if line.startswith("Listed data/eval.csv (eval) at md5 ")],
        "Staged router/data/eval.csv.dvc, router/data/.gitignore in git: commit them with agent.yaml; the data itself is in the DVC cache, not in git.",
    ]
    [record] = [r for r in agentgov_home.audit_log.records() if r.action == "data.add"]
    assert record.subject == "support-router" and record.payload["path"] == "data/eval.csv" and record.actor == "test-user"

    monkeypatch.chdir(agent)
    profiled = run_cli("data", "profile", "data/eval.csv", "--suite", "eval", check=True)
    assert "expectations proposed from" in profiled.stdout and profiled.stderr == ""
    hint = profiled.stdout.splitlines()[-1].strip()
    assert hint == "agentgov data add data/eval.csv --suite suites/eval.json"
    attached = run_cli(*shlex.split(hint)[1:], check=True)  # the hint's command, as printed: the listed dataset gets its suite
    assert "Re-tracked data/eval.csv (eval)" in attached.stdout and "Its suite is now suites/eval.json." in attached.stdout

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


def test_validate_with_no_suite_writes_no_report_and_says_so_in_one_line(run_cli: Run, agent: Path, agentgov_home: Home) -> None:
    with (agent / "agent.yaml").open("a") as f:
        f.write("datasets:\n  - path: data/eval.csv\n    role: eval\n")
    result = run_cli("data", "validate", "--agent", str(agent))
    assert not [p for p in agentgov_home.root.rglob("*") if p.is_file() and "validation" in p.parts]  # no empty report
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Nothing to validate and no report written: no dataset of support-router names a suite (`agentgov data add PATH --suite FILE`).\n"
    assert json.loads(run_cli("data", "validate", "--agent", str(agent), "--json", check=True).stdout)["results"] == []
