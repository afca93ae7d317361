"""Each console page's latency on a populated home: N agents x M versions in a real MLflow registry on sqlite
and R audit records, measured through the real app (Starlette's TestClient, in process).

    python benchmarks/console.py [--agents 50] [--versions 100] [--records 100000] [--requests 20] [--home DIR]

The first agent is registered for real (``register``: a logged model, its bill of materials and lineage) and
promoted through shadow and canary for real (recorded decisions and stage changes); the others and the further
versions are created with the MLflow client the way ``register`` tags them, reusing that version's logged model,
so filling 5,000 versions takes minutes rather than hours. A rollout of the measured agent is started for real (its state
in the registry). The audit records are copies of those real decisions and stage changes, drift checks and
approvals spread over the agents, written with the audit log's own bulk append (``AuditLog.extend``: hash
chained, one fsync per batch). Prints how long populating took, then median and p95 per page in milliseconds.

``--home DIR`` keeps the populated home in DIR and reuses it when it is there already (populating is the slow
part), so two revisions of the console can be measured on the same data one after the other.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "support-router"
PLAN = """\
name = "bench"

[[steps]]
kind = "shadow"
mirror = 1.0
min_requests = 200

[steps.analysis]
shadow_agreement = 0.9

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "production"
"""
BATCH = 10_000


def _sources(root: Path) -> Any:
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager
    from agentgov.pipelines.console.queries import Sources

    home = Home(root / "home")
    environ = {"AGENTGOV_HOME": str(home.root), "AGENTGOV_USER": "bench", "AGENTGOV_NO_SERVER": "1"}
    if not home.root.exists():
        home.create()
    config = load_config(start=root, environ=environ)
    plugins = PluginManager(config)
    plugins.load_builtins()
    return Sources(config, plugins, home.audit_log)


def populate(root: Path, agents: int, versions: int, records: int) -> dict[str, Any]:
    """Fill a new home under ``root``; what the measurements need to know about it."""
    import yaml

    from agentgov.core.types import Stage
    from agentgov.deploy.plan import parse_plan
    from agentgov.pipelines.promotion import PromotionBlocked, promote
    from agentgov.pipelines.registration import register
    from agentgov.pipelines.rollout import actions
    from agentgov.registry.model import TAG_AGENT, TAG_DRIFT, TAG_STAGE

    agent_dir = root / "agent"
    agent_dir.mkdir()
    for file in EXAMPLE.glob("*.py"):
        shutil.copy(file, agent_dir)
    manifest = yaml.safe_load((EXAMPLE / "agent.yaml").read_text())
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    manifest["name"] = f"{prefix}-000"
    manifest.pop("datasets", None)
    (agent_dir / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    sources = _sources(root)
    config, plugins, audit, client = sources.config, sources.plugins, sources.audit, sources.client

    started = time.perf_counter()
    first = register(agent_dir, config=config, audit=audit, plugins=plugins, actor="bench")
    for target in (Stage.SHADOW, Stage.CANARY):  # real decisions and a real stage change to copy
        try:
            promote(config, first.ref, target, actor="bench", audit=audit, plugins=plugins)
        except PromotionBlocked:
            pass
    original = client.get_model_version(first.name, str(first.version))
    tags = {k: v for k, v in original.tags.items() if not k.startswith(("agentgov.decision.", "agentgov.gate."))}
    names = [first.name] + [f"{prefix}-{i:03d}" for i in range(1, agents)]
    drift = '{"status": "ok", "share_drifted": 0.1, "columns": []}'
    for index, name in enumerate(names):
        if index:
            client.create_registered_model(name, tags={TAG_AGENT: "true"}, description=f"benchmark agent {index}")
        for _ in range(2 if index == 0 else 1, versions + 1):
            client.create_model_version(
                name,
                source=original.source,
                run_id=original.run_id,
                model_id=original.model_id,
                tags={**tags, TAG_STAGE: "candidate"},
            )
        live = str(versions)
        client.set_model_version_tag(name, live, TAG_STAGE, "production")
        client.set_model_version_tag(name, live, TAG_DRIFT, drift)
        client.set_registered_model_alias(name, "production", live)
    measured = names[len(names) // 2]
    actions.start(sources.rollout_context, measured, versions - 1, parse_plan(PLAN, "bench.toml"), actor="bench")
    registry_s = time.perf_counter() - started

    real = [r.to_dict() for r in audit.records()]
    decision = next(r["payload"] for r in real if r["action"] == "decision")
    change = next((r["payload"] for r in real if r["action"] == "stage.change"), None)
    started = time.perf_counter()
    pending: list[dict[str, Any]] = []
    kinds = ("decision", "stage.change", "drift.check", "approval")
    for i in range(records - len(real)):
        name, action = names[i % len(names)], kinds[(i // len(names)) % len(kinds)]
        version = 1 + (i // (len(names) * len(kinds))) % versions
        payload: dict[str, Any]
        if action == "decision":
            payload = copy.deepcopy(decision)
            payload.update(
                id=uuid.uuid4().hex,
                agent={"name": name, "version": version},
                target="canary",
                outcome="allowed" if i % 7 else "needs-review",
            )
        elif action == "stage.change" and change is not None:
            payload = {**change, "agent": name, "version": version, "aliases_after": {"shadow": version}}
        elif action == "drift.check":
            payload = {"status": "ok", "share_drifted": (i % 10) / 10, "stamp": f"b{i}", "drifted_columns": []}
        else:
            payload = {"stage": "production", "comment": f"benchmark record {i}"}
        pending.append({"actor": "bench", "action": action, "subject": f"{name}/{version}", "payload": payload})
        if len(pending) == BATCH:
            audit.extend(pending)
            pending = []
    audit.extend(pending)
    audit_s = time.perf_counter() - started
    print(f"populate: registry {agents} agents x {versions} versions in {registry_s:.0f} s; ", end="")
    print(f"audit {records:,} records in {audit_s:.1f} s (AuditLog.extend, batches of {BATCH:,})")
    decision_id = next(
        r.payload["id"] for r in reversed(list(audit.records(subject_prefix=measured))) if r.action == "decision"
    )
    return {"names": names, "measured": measured, "decision": decision_id, "versions": versions}


def measure(sources: Any, facts: dict[str, Any], requests: int) -> list[tuple[str, float, float, int]]:
    from starlette.testclient import TestClient

    from agentgov.core.audit import AuditLog
    from agentgov.pipelines.console.app import create_app

    name = facts["measured"]
    pages = {
        "agents (/)": "/",
        "agent": f"/agents/{name}",
        "agent, live at …": f"/agents/{name}?at=2030-01-01T00:00",
        "decision": f"/decisions/{facts['decision']}",
        "explain": f"/agents/{name}/versions/{facts['versions'] - 1}/explain?to=canary",
        "review queue": "/review",
        "rollout": f"/agents/{name}/rollout",
        "drift": f"/agents/{name}/drift",
        "audit": "/audit",
        "audit, filtered": f"/audit?agent={name}&action=decision",
    }
    writer = AuditLog(sources.audit.path)  # another process's, as the CLI's or the gateway's would be
    rows = []
    with TestClient(create_app(sources)) as client:
        started = time.perf_counter()
        client.get("/audit")  # the first page of a new console process reads (and verifies) the whole log
        print(f"first page of a new console: {(time.perf_counter() - started) * 1000:.0f} ms")
        for label, path in pages.items():
            rows.append((label, *_timed(client, path, requests)))
        for label, path in (("agents, after append", "/"), ("audit, after append", "/audit")):
            # each load follows a new record: the page reads it (and verifies it) before answering
            append = lambda: writer.append(actor="bench", action="note", subject=f"{name}/1")  # noqa: E731
            rows.append((label, *_timed(client, path, requests, before=append)))
    return rows


def _timed(client: Any, path: str, requests: int, before: Any = None) -> tuple[float, float, int]:
    """Median and p95 of ``requests`` loads of ``path`` in ms (``before`` run, untimed, ahead of each), and the
    status of an untimed first load (it compiles the template)."""
    status = client.get(path).status_code
    timings = []
    for _ in range(requests):
        if before is not None:
            before()
        started = time.perf_counter()
        client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    return statistics.median(timings), p95, status


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--home", type=Path, help="keep the populated home here, and reuse it if it is there")
    args = parser.parse_args()
    os.environ.pop("AGENTGOV_HOME", None)
    with tempfile.TemporaryDirectory(prefix="agentgov-console-bench-") as tmp:
        root = args.home or Path(tmp)
        facts_file = root / "bench.json"
        if facts_file.exists():
            facts = json.loads(facts_file.read_text())
            print(f"reusing the home populated in {root}")
        else:
            root.mkdir(parents=True, exist_ok=True)
            facts = populate(root, args.agents, args.versions, args.records)
            facts_file.write_text(json.dumps(facts))
        sources = _sources(root)
        with open(sources.audit.path, "rb") as log:
            records = sum(1 for _ in log)
        print(f"load before: {_load()}")
        rows = measure(sources, facts, args.requests)
        print(f"load after:  {_load()}")
    print(
        f"\n{len(facts['names'])} agents x {facts['versions']} versions, {records:,} audit records, "
        f"{args.requests} requests each"
    )
    print(f"{'page':<22} {'median ms':>10} {'p95 ms':>10} {'status':>7}")
    for label, median, p95, status in rows:
        print(f"{label:<22} {median:>10.1f} {p95:>10.1f} {status:>7}")


if __name__ == "__main__":
    main()
