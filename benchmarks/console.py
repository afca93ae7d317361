"""Each console page's latency on a populated home: N agents x M versions in a real MLflow registry on sqlite
and R audit records, measured through the real app (Starlette's TestClient, in process).

    python benchmarks/console.py [--agents 50] [--versions 100] [--records 100000] [--requests 20]

The first agent is registered for real (``register``: a logged model, its bill of materials and lineage); the
others and the further versions are created with the MLflow client the way ``register`` tags them, reusing
that version's logged model, so filling 5,000 versions takes minutes rather than hours. The audit records are
written with the audit log's own ``append`` (hash-chained, one fsync each) as decisions, stage moves and drift
checks spread over the agents. Prints median and p95 per page in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "support-router"


def populate(root: Path, agents: int, versions: int, records: int) -> Any:
    import yaml

    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager
    from agentgov.pipelines.console.queries import Sources
    from agentgov.pipelines.registration import register
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
    home = Home(root / "home")
    home.create()
    environ = {"AGENTGOV_HOME": str(home.root), "AGENTGOV_USER": "bench", "AGENTGOV_NO_SERVER": "1"}
    config = load_config(start=root, environ=environ)
    plugins = PluginManager(config)
    plugins.load_builtins()
    sources = Sources(config, plugins, home.audit_log)
    client = sources.client

    started = time.perf_counter()
    first = register(agent_dir, config=config, audit=home.audit_log, plugins=plugins, actor="bench")
    original = client.get_model_version(first.name, str(first.version))
    tags = dict(original.tags)
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
    print(f"registry: {agents} agents x {versions} versions in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    audit = home.audit_log
    actions = ("decision", "stage.move", "drift.check", "approval")
    for i in range(records):
        name, action = names[i % len(names)], actions[i % len(actions)]
        version = 1 + (i // len(names)) % versions
        payload: dict[str, Any] = {"note": f"benchmark record {i}"}
        if action == "decision":
            payload = {
                "id": uuid.uuid4().hex,
                "agent": {"name": name, "version": version},
                "target": "canary",
                "outcome": "allowed" if i % 7 else "needs-review",
                "results": [],
                "actor": "bench",
                "summary": "benchmark decision",
            }
        elif action == "drift.check":
            payload = {"status": "ok", "share_drifted": (i % 10) / 10, "stamp": f"b{i}", "drifted_columns": []}
        audit.append(actor="bench", action=action, subject=f"{name}/{version}", payload=payload)
    print(f"audit: {records:,} records in {time.perf_counter() - started:.0f} s")
    return sources, names


def measure(sources: Any, names: list[str], requests: int) -> list[tuple[str, float, float, int]]:
    from starlette.testclient import TestClient

    from agentgov.pipelines.console.app import create_app

    name = names[len(names) // 2]
    pages = {
        "agents (/)": "/",
        "agent": f"/agents/{name}",
        "agent, live at …": f"/agents/{name}?at=2030-01-01T00:00",
        "drift": f"/agents/{name}/drift",
        "audit": "/audit",
        "audit, filtered": f"/audit?agent={name}&action=decision",
        "review queue": "/review",
    }
    rows = []
    with TestClient(create_app(sources)) as client:
        for label, path in pages.items():
            status = client.get(path).status_code  # warm-up (first client connect, template compile)
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            rows.append((label, statistics.median(timings), p95, status))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    os.environ.pop("AGENTGOV_HOME", None)
    with tempfile.TemporaryDirectory(prefix="agentgov-console-bench-") as tmp:
        sources, names = populate(Path(tmp), args.agents, args.versions, args.records)
        rows = measure(sources, names, args.requests)
    print(
        f"\n{args.agents} agents x {args.versions} versions, {args.records:,} audit records, {args.requests} requests each"
    )
    print(f"{'page':<20} {'median ms':>10} {'p95 ms':>10} {'status':>7}")
    for label, median, p95, status in rows:
        print(f"{label:<20} {median:>10.1f} {p95:>10.1f} {status:>7}")


if __name__ == "__main__":
    main()
