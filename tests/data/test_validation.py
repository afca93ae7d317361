from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentgov.core.home import Home
from agentgov.data.contracts import profile, write_suite
from agentgov.data.errors import DataError, DatasetUnreadable
from agentgov.data.validation import selected, validate_agent
from agentgov.registry.manifest import load_manifest


@pytest.fixture
def agent_with_suite(agent: Path) -> Path:
    write_suite(profile(agent / "data" / "eval.csv", "eval"), agent / "suites" / "eval.json")
    shutil.copy(agent / "data" / "eval.csv", agent / "data" / "train.csv")
    with (agent / "agent.yaml").open("a") as f:
        f.write(
            "datasets:\n  - path: data/eval.csv\n    role: eval\n    suite: suites/eval.json\n"
            "  - path: data/train.csv\n    role: train\n    suite: suites/eval.json\n"
            "  - path: data/other.csv\n    role: reference\n"
        )
    return agent


def test_validate_agent_writes_json_and_html_reports_and_the_tag_summary(agent_with_suite: Path, agentgov_home: Home) -> None:
    agent = agent_with_suite
    with (agent / "data" / "train.csv").open("a") as f:
        f.write("Spam,<b>buy</b>,spam,0.5\n")
    manifest = load_manifest(agent / "agent.yaml")
    report = validate_agent(agent, manifest, reports=agentgov_home.reports / "validation")

    assert [r.dataset for r in report.results] == ["data/eval.csv", "data/train.csv"]  # other.csv names no suite
    assert not report.passed and report.results[0].passed and not report.results[1].passed
    assert report.json_path.parent == agentgov_home.reports / "validation" / manifest.name
    stored = json.loads(report.json_path.read_text())
    assert stored["passed"] is False and stored["results"][1]["failed"][0]["examples"]
    html = report.html_path.read_text()
    assert "failed" in html and "expect_column_values_to_be_in_set" in html and "&lt;b&gt;buy&lt;/b&gt;" in html and "<b>buy" not in html

    summary = report.summary("runs:/x/data_validation/report.json")
    train = summary["suites"]["data/train.csv"]
    assert summary["passed"] is False and summary["report"] == "runs:/x/data_validation/report.json"
    assert summary["suites"]["data/eval.csv"] == {"passed": True, "failed_expectations": 0, "evaluated": report.results[0].evaluated}
    assert train["passed"] is False and train["failed_expectations"] == len(report.results[1].failed) >= 3


def test_an_unreadable_dataset_stops_validation_or_is_recorded_with_keep_going(agent_with_suite: Path, agentgov_home: Home) -> None:
    (agent_with_suite / "data" / "train.csv").write_text("")
    manifest = load_manifest(agent_with_suite / "agent.yaml")
    with pytest.raises(DatasetUnreadable, match=r"train\.csv: empty file"):
        validate_agent(agent_with_suite, manifest, reports=agentgov_home.reports)
    report = validate_agent(agent_with_suite, manifest, reports=agentgov_home.reports, keep_going=True)
    assert report.results[0].passed and not report.results[1].passed
    assert "empty file" in report.summary()["suites"]["data/train.csv"]["error"]


def test_naming_datasets_selects_them_and_refuses_unknown_or_suiteless_ones(agent_with_suite: Path) -> None:
    manifest = load_manifest(agent_with_suite / "agent.yaml")
    assert selected(manifest, ["./data/train.csv"]) == [("data/train.csv", "suites/eval.json")]
    with pytest.raises(DataError, match=r"data/nope.csv: not a dataset of .* \(its datasets: data/eval.csv, data/train.csv, data/other.csv\)"):
        selected(manifest, ["data/nope.csv"])
    with pytest.raises(DataError, match=r"data/other\.csv: no suite in the manifest"):
        selected(manifest, ["data/other.csv"])
