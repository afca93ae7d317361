"""What a gate of 10 policies costs: the plugin machinery, and the Prefect flow around it.

    python benchmarks/gate.py [--repeat 20] [--flow-repeat 3] [--server] [--no-flow] [--heavy]

Plugin overhead (in memory, no registry): 10 trivial policies called directly,
versus the same 10 through the gate (collected from a plugin, configured from
agentgov.toml, each in its own thread with a time limit, the config hashed),
and the 10 built-in policies on static evidence.

Isolation cost: one trivial policy through the gate in a thread (the default)
and with ``isolation = "process"`` (a forked process, killed at its deadline,
its verdict sent back as JSON), and the same trivial policy reading the
version through the gate from its process. Forking costs more in a bigger
process: ``--heavy`` imports MLflow and Prefect first, as a promotion has.

Flow overhead (a real sqlite registry in a temporary home, the example agent
registered, evidence tags on the version): the gate as a dry run called
directly, versus the same dry run as the ``promote-agent`` Prefect flow on the
embedded server, and (``--server``) on a running ``agentgov server``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "support-router"
BUILT_IN = (
    "data-validation-passed", "lineage-complete", "eval-thresholds", "drift-within-limits", "shadow-agreement",
    "human-approval", "connector-least-privilege", "change-freeze", "cost-budget", "latency-slo",
)
EVIDENCE = {
    "agentgov.data_validation": {"passed": True, "suites": {"data/eval.csv": {"passed": True, "failed_expectations": 0}}},
    "agentgov.eval": {"samples": 2000, "task_success": {"rate": 0.93}, "error_rate": 0.002, "latency_ms": {"p95": 120}, "cost_per_task": 0.001},
    "agentgov.drift": {"columns": [{"column": "x", "method": "wasserstein", "score": 0.01, "threshold": 0.1, "drifted": False}], "share_drifted": 0.0, "status": "ok"},
    "agentgov.rollout": {"requests": 5000, "agreement": 0.99, "error_rate": 0.001, "production_error_rate": 0.001, "latency_p95_ms": 110, "production_latency_p95_ms": 100, "cost_per_task": 0.001},
}


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls, after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


class Trivial:
    description = "passes at once"

    def __init__(self, name: str) -> None:
        from agentgov.core.types import Stage

        self.name = name
        self.stages = frozenset({Stage.PRODUCTION})

    def evaluate(self, context):
        return context.passed("ok")


def plugin_overhead(repeat: int) -> list[tuple[str, float]]:
    from agentgov.core.config import load_config
    from agentgov.core.plugins import PluginManager
    from agentgov.core.types import AgentRef, Stage
    from agentgov.policies.context import GateRequest, PolicyContext
    from agentgov.policies.gate import decide
    from agentgov.policies.testing import StaticEvidence, agent_version

    policies = [Trivial(f"trivial-{i}") for i in range(10)]

    class Plugin:
        @staticmethod
        def agentgov_register_policies(register):
            for policy in policies:
                register(policy)

    Path("agentgov.toml").write_text("".join(f"[stages.production.policies.{p.name}]\n" for p in policies))
    config = load_config()
    plugins = PluginManager(config)
    plugins.register(Plugin(), "trivial")
    evidence = StaticEvidence(agent_version(manifest={"connectors": [{"name": "h", "scopes": ["tickets:read"]}], "success_criteria": {"task_success_min": 0.8, "latency_p95_ms_max": 200, "cost_per_task_max": 0.01}}, evidence=EVIDENCE))
    request = GateRequest(AgentRef("test-agent", version=1), Stage.PRODUCTION, "bench")
    bare = timed(lambda: [p.evaluate(PolicyContext(p.name, {}, request, evidence)) for p in policies], repeat)
    gate = timed(lambda: decide(config, plugins, request, evidence), repeat)

    Path("agentgov.toml").write_text("".join(f"[stages.production.policies.{name}]\n" for name in BUILT_IN))
    config = load_config()
    builtins = PluginManager(config)
    builtins.load_builtins()
    decision = decide(config, builtins, request, evidence)
    assert len(decision.results) == 10, decision.results
    built_in = timed(lambda: decide(config, builtins, request, evidence), repeat)
    return [
        ("10 trivial policies, called directly", bare),
        ("10 trivial policies through the gate", gate),
        ("10 built-in policies through the gate (static evidence)", built_in),
        *isolation_overhead(plugins, request, evidence, repeat),
    ]


class Reader(Trivial):
    def evaluate(self, context):
        return context.passed(f"read {context.version.ref}")


def isolation_overhead(plugins, request, evidence, repeat: int) -> list[tuple[str, float]]:
    """One trivial policy through the gate: in a thread, in a process of its own, and reading evidence from there."""
    from agentgov.core.config import load_config
    from agentgov.policies.gate import decide

    reader = Reader("reader")

    class Plugin:
        @staticmethod
        def agentgov_register_policies(register):
            register(reader)

    plugins.register(Plugin(), "reader")
    rows = []
    for label, toml in (
        ("1 trivial policy through the gate, in a thread", "[stages.production.policies.trivial-0]\n"),
        ("1 trivial policy through the gate, isolation = process", '[stages.production.policies.trivial-0]\nisolation = "process"\n'),
        ("1 policy reading the version, isolation = process", '[stages.production.policies.reader]\nisolation = "process"\n'),
    ):
        Path("agentgov.toml").write_text(toml)
        config = load_config()
        assert decide(config, plugins, request, evidence).allowed
        rows.append((label, timed(lambda config=config: decide(config, plugins, request, evidence), repeat)))
    return rows


def flow_overhead(repeat: int, with_server: bool) -> list[tuple[str, float]]:
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promote import promote_agent
    from agentgov.pipelines.promotion import prepare
    from agentgov.pipelines.registration import register
    from agentgov.pipelines.runtime import run_flow
    from agentgov.registry.backend import connect

    shutil.copytree(EXAMPLE, "agent")
    Path("agentgov.toml").write_text("".join(f"[stages.production.policies.{name}]\n" for name in BUILT_IN))
    config = load_config()
    home = Home(config.home)
    home.create()
    plugins = load_plugins(config, entrypoints=False)
    version = register(Path("agent"), config=config, audit=home.audit_log, plugins=plugins, actor="bench")
    client = connect(config)
    for tag, value in EVIDENCE.items():
        client.set_model_version_tag(version.name, str(version.version), tag, json.dumps(value))
    ref = AgentRef(version.name, version=version.version)

    def direct() -> None:
        prepare(config, ref, Stage.PRODUCTION, actor="bench", audit=home.audit_log, plugins=plugins, dry_run=True)

    def as_flow() -> None:
        run_flow(promote_agent, config=config, name=ref.name, version=ref.version, target="production", actor="bench", dry_run=True)

    rows = [("gate dry run on the registry, called directly", timed(direct, repeat))]
    rows.append(("the same as a promote-agent flow, embedded Prefect", timed(as_flow, repeat)))
    if with_server:
        from agentgov.pipelines import server

        server.start(config)
        try:
            rows.append(("the same as a promote-agent flow, running agentgov server", timed(as_flow, repeat)))
        finally:
            server.stop(config)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of the in-memory cases (median)")
    parser.add_argument("--flow-repeat", type=int, default=3, help="timed runs of the registry and flow cases (median)")
    parser.add_argument("--server", action="store_true", help="also time the flow on a running agentgov server")
    parser.add_argument("--no-flow", action="store_true", help="only the in-memory cases: no registry, no Prefect")
    parser.add_argument("--heavy", action="store_true", help="import MLflow and Prefect first, as a promotion has (a bigger process to fork)")
    args = parser.parse_args()
    if args.heavy:
        import mlflow  # noqa: F401
        import prefect  # noqa: F401
    workdir = Path(tempfile.mkdtemp(prefix="agentgov-gate-bench-"))
    os.chdir(workdir)
    os.environ.update({"AGENTGOV_HOME": str(workdir / "home"), "AGENTGOV_USER": "bench"})
    try:
        rows = plugin_overhead(args.repeat) + ([] if args.no_flow else flow_overhead(args.flow_repeat, args.server))
    finally:
        os.chdir(REPO)
        shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(name) for name, _ in rows)
    print(f"{'case':<{width}}  median ms")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1000:9.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
