"""The validate-data flow: one task run per dataset, a failing contract is a result, the summary an artifact."""

from __future__ import annotations

from pathlib import Path

from agentgov.core.config import Config
from agentgov.data.contracts import profile, write_suite
from agentgov.data.manifest_edit import append_dataset
from agentgov.pipelines.runtime import run_flow
from agentgov.pipelines.validate_data import validate_data

from .conftest import one_run

ROWS = "ticket_id,channel,minutes\n" + "".join(f"{i},{'email' if i % 2 else 'chat'},{i % 30 + 1}\n" for i in range(200))


def test_each_dataset_is_checked_in_its_own_task_and_a_failing_one_is_reported_not_raised(
    agentgov_config: Config, agent_dir: Path, agent_name: str
) -> None:
    data = agent_dir / "data"
    data.mkdir(exist_ok=True)
    (data / "reference.csv").write_text(ROWS)
    write_suite(profile(data / "reference.csv", "tickets"), agent_dir / "suites" / "tickets.json")
    (data / "eval.csv").write_text(ROWS.replace(",email,", ",fax,"))  # a channel the contract does not allow
    for name in ("reference", "eval"):
        append_dataset(agent_dir / "agent.yaml", f"data/{name}.csv", name if name == "reference" else "eval", "suites/tickets.json")

    report = run_flow(validate_data, str(agent_dir), config=agentgov_config)

    outcome = {r.dataset: r.passed for r in report.results}
    assert outcome == {"data/reference.csv": True, "data/eval.csv": False} and not report.passed
    assert report.json_path is not None and report.json_path.is_file()
    run = one_run(agentgov_config, f"validate {agent_name}")
    assert run.state == "COMPLETED"
    assert run.task_states("validate data/") == ["COMPLETED", "COMPLETED"]
    table = run.artifacts[f"validate-{agent_name}"]
    assert "FAILED" in table and "| data/reference.csv | suites/tickets.json | passed |" in table
    assert "channel" in table.split("| data/eval.csv |")[1]
