"""The eval engine without a registry: finding and checking the eval file, running rows, the tag it writes.

The registry end of it (a registered agent, the MLflow run, the tag read by the
gate) is in tests/registry/test_offline_eval.py, beside the registry fixtures.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest

from agentgov.evals.metrics import Outcome
from agentgov.evals.offline import (
    TAG_LIMIT,
    EvalData,
    EvalError,
    EvalSet,
    UntrackedEvalData,
    build_result,
    check_tracked,
    locate,
    run_eval,
)
from agentgov.registry.model import TAG_MANIFEST, AgentVersion

ROWS = "subject,body,expected_action\nRefund,charged twice,refund\nHi,opening hours?,reply\n"


def _version(tags: dict[str, str] | None = None, datasets: list[dict] | None = None) -> AgentVersion:
    manifest = {"name": "router", "datasets": datasets if datasets is not None else [{"path": "data/eval.csv", "role": "eval"}]}
    return AgentVersion("router", 3, None, "ready", (), "models:/m-1", 0, {TAG_MANIFEST: json.dumps(manifest), **(tags or {})})


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "eval.csv").write_text(ROWS)
    return tmp_path


def test_the_eval_role_names_the_manifests_eval_dataset_under_the_agent_folder(agent_dir: Path) -> None:
    assert locate(_version(), "eval", agent_dir) == (agent_dir / "data" / "eval.csv", "data/eval.csv")
    # a path inside the agent folder keeps its manifest name, so the lineage check still applies
    assert locate(_version(), str(agent_dir / "data" / "eval.csv"), agent_dir)[1] == "data/eval.csv"


def test_no_eval_dataset_in_the_manifest_says_how_to_add_one(agent_dir: Path) -> None:
    with pytest.raises(EvalError, match=r"declares no dataset with role eval.*agentgov data add FILE --role eval"):
        locate(_version(datasets=[{"path": "data/train.csv", "role": "train"}]), "eval", agent_dir)


def test_a_tracked_file_passes_and_a_modified_one_is_refused_naming_both_hashes(agent_dir: Path) -> None:
    version = _version({"agentgov.lineage.dataset.data/eval.csv": _md5(ROWS)})
    file = agent_dir / "data" / "eval.csv"
    assert check_tracked(version, file, "data/eval.csv", _md5(ROWS), allow_untracked=False) == EvalData(file, "data/eval.csv", _md5(ROWS), _md5(ROWS), True)

    file.write_text(ROWS + "Bug,app crashes,technical\n")
    with pytest.raises(UntrackedEvalData) as refused:
        check_tracked(version, file, "data/eval.csv", _md5(file.read_text()), allow_untracked=False)
    message = str(refused.value)
    assert str(file) in message and _md5(ROWS)[:12] in message and _md5(file.read_text())[:12] in message
    assert "agentgov data checkout router 3" in message and "--allow-untracked" in message

    allowed = check_tracked(version, file, "data/eval.csv", _md5(file.read_text()), allow_untracked=True)
    assert (allowed.tracked, allowed.recorded_md5) == (False, _md5(ROWS))


@pytest.mark.parametrize(
    ("lineage", "why"),
    [
        ({"agentgov.lineage.dataset.data/eval.csv": "untracked"}, "not tracked by DVC"),
        ({}, "without data/eval.csv in its datasets"),
        ({"agentgov.lineage.dataset.data/eval.csv": "x" * 32, "agentgov.lineage.dataset_state.data/eval.csv": "modified"}, "not tracked by DVC"),
    ],
)
def test_data_the_version_never_tracked_is_refused(agent_dir: Path, lineage: dict[str, str], why: str) -> None:
    with pytest.raises(UntrackedEvalData, match=why):
        check_tracked(_version(lineage), agent_dir / "data" / "eval.csv", "data/eval.csv", _md5(ROWS), allow_untracked=False)


class Router:
    """A small real agent: routes on one keyword, fails on purpose on some inputs."""

    def __init__(self) -> None:
        self.active = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def act(self, request: dict) -> object:
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        try:
            time.sleep(0.01)
            body = request["body"]
            if body == "boom":
                raise RuntimeError("model timed out")
            if body == "nothing":
                return {"confidence": 0.1}
            if body == "text":
                return "refund"
            return {"action": "refund" if "refund" in body else "reply", "cost": 0.001}
        finally:
            with self.lock:
                self.active -= 1


def _eval_set(bodies: list[str], expected: list[str]) -> EvalSet:
    data = EvalData(Path("eval.csv"), "eval.csv", "0" * 32, "0" * 32, True)
    return EvalSet(_version(), data, "expected_action", tuple({"body": b} for b in bodies), tuple(expected))


def test_rows_run_in_parallel_keep_their_order_and_failures_become_errors() -> None:
    bodies = ["refund please", "hello", "boom", "nothing", "text", "refund now"] * 4
    expected = ["refund", "reply", "reply", "reply", "refund", "reply"] * 4
    agent = Router()
    done = []
    outcomes = run_eval(agent.act, _eval_set(bodies, expected), workers=4, on_done=lambda: done.append(1))

    assert agent.most_at_once > 1 and len(done) == len(bodies)
    assert [o.predicted for o in outcomes[:6]] == ["refund", "reply", None, None, None, "refund"]
    assert [o.error for o in outcomes[2:5]] == [
        "RuntimeError: model timed out", "invalid response: no 'action'", "invalid response: str, not a mapping"
    ]
    assert all(o.latency_ms >= 10 for o in outcomes)
    sequential = run_eval(Router().act, _eval_set(bodies, expected), workers=1)
    assert [(o.predicted, o.error) for o in sequential] == [(o.predicted, o.error) for o in outcomes]


def test_the_tag_holds_exactly_what_the_policies_read() -> None:
    outcomes = [Outcome("refund", "refund", 2.0, cost=0.001), Outcome("reply", "refund", 4.0, cost=0.003), Outcome("reply", None, 6.0, error="x")]
    result = build_result(_eval_set(["a", "b", "c"], ["refund", "reply", "reply"]), outcomes, response_field="action", workers=1)
    tag = result.tag()
    assert set(tag) == {"samples", "task_success", "error_rate", "errors", "latency_ms", "cost_per_task", "per_class", "report", "dataset"}
    assert tag["samples"] == 3 and tag["errors"] == 1 and tag["error_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert set(tag["task_success"]) == {"rate", "ci_low", "ci_high"} and tag["task_success"]["rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert tag["latency_ms"] == {"p50": 4.0, "p95": 5.8, "p99": 5.96}
    assert tag["cost_per_task"] == pytest.approx(0.004 / 3)
    assert tag["per_class"]["refund"] == {"precision": 0.5, "recall": 1.0, "tp": 1, "fp": 1, "fn": 0, "support": 1}
    assert tag["report"] is None and tag["dataset"] == {"path": "eval.csv", "md5": "0" * 32}
    assert result.confusion == {"refund": {"refund": 1}, "reply": {"(error)": 1, "refund": 1}}
    assert result.error_examples == ("row 4: x",)
    assert "only 2 of 3 responses carry a 'cost'" in " ".join(result.notes)


def test_thousands_of_labels_keep_the_tag_under_mlflows_limit() -> None:
    labels = [f"intent-{i:05d}-with-a-long-descriptive-name" for i in range(3000)]
    outcomes = [Outcome(label, label, 1.0) for label in labels] + [Outcome(labels[0], labels[0], 1.0)]
    result = build_result(_eval_set(["x"] * len(outcomes), [o.expected for o in outcomes]), outcomes, response_field="action", workers=1)
    tag = result.tag()
    assert len(json.dumps(tag)) <= TAG_LIMIT and tag["per_class_truncated"] is True
    assert len(tag["per_class"]) == 100 and labels[0] in tag["per_class"]  # the biggest classes are kept
    assert len(result.to_dict()["per_class"]) == len(result.to_dict()["confusion"]) == 3000  # the report keeps them all
