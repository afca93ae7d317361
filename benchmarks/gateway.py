"""The gateway's cost, in one run under the same load: the served agent called directly, the gateway in front
of it with mirroring off, and (versions in the gateway's process) mirroring on with a healthy shadow, a shadow
that sleeps 5 s and one that raises.

    python benchmarks/gateway.py [--requests 3000] [--concurrency 8] [--rounds 3] [--rps R] [--pin] [--json]

Ways, each answering the same requests from ``--concurrency`` threads over keep-alive HTTP on 127.0.0.1:

* ``bento direct``: the version's bento (``bentoml serve``), ``POST /act``;
* ``bento direct, /act_traced``: the same bento's ``POST /act_traced`` in live mode, the route the gateway calls
  (it returns the trace of the tool calls the gateway logs); BentoML's ``/act`` and this FastAPI route cost the
  bento different CPU, so the gateway's own cost is the difference from this way, not from the one above;
* ``gateway -> bento``: ``agentgov gateway --upstream 1=URL`` in front of that bento, mirroring off;
* ``agent direct``: the same version loaded in a bare Starlette app (uvicorn, the agent in a thread pool, as the
  gateway runs an in-process version), no routing, logging or metrics;
* ``gateway, mirroring off`` / ``healthy shadow`` / ``shadow sleeps 5 s`` / ``shadow raises``: ``agentgov gateway``
  with the versions in its process, every request mirrored (share 1.0) in the last three, each shadow version in
  a host process of its own (the default; ``--shadow-in-process`` would put it in the gateway's threads), with
  the defaults: 4 shadow workers, 2 s timeout, a queue of 1000, the host at niceness +10; routing read every
  second (the default), as an operator runs it.

``--pin`` (Linux, 2 CPUs or more) gives the shadow capacity of its own, as a shadow served on its own replicas
has: the benchmark, its callers and every server keep to all CPUs but the last, and the gateway runs each shadow
host on the last one (``agentgov gateway --shadow-cpus``). Every way runs pinned alike, so the ways still compare;
what mirroring then adds to the primary path is the gateway's own work for each copy.

Closed loop by default (each thread sends its next request when the last one answered: the machine runs
flat out, so any CPU a shadow takes shows in the callers' latency); ``--rps`` paces the requests at a rate the
machine can carry, as a service runs. The ways run in ``--rounds`` interleaved rounds (each round: every way, ``requests / rounds`` requests) so a
change in the machine's load falls on all of them; the figures pool the rounds. Errors: an exception, an HTTP
status other than 200, or an answer other than the agent's own. Shadow drops are read from the gateway's /metrics.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "support-router"
TEXTS = [
    ("Charged twice", "I was charged twice for my subscription, please refund me."),
    ("App crashes", "The app crashes with an error when I log in."),
    ("Invoice", "Where can I download last month's invoice?"),
    ("Furious", "I am furious and will call my lawyer."),
    ("Hello", "Just wanted to say thanks."),
]
# Versions 3 and 4 misbehave only when BENCH_FAULTS=1 (set for the gateway, not at registration, whose probe runs them).
FAULTY = """

import os as _os
import time as _time


class SleepyRouter(SupportRouter):
    def act(self, request):
        if _os.environ.get("BENCH_FAULTS") == "1":
            _time.sleep(5)
        return super().act(request)


class BrokenRouter(SupportRouter):
    def act(self, request):
        if _os.environ.get("BENCH_FAULTS") == "1":
            raise RuntimeError("this version is broken")
        return super().act(request)
"""


def requests_for(n: int) -> list[dict[str, str]]:
    return [{"subject": s, "body": f"{b} (#{i})"} for i, (s, b) in ((i, TEXTS[i % len(TEXTS)]) for i in range(n))]


class HttpCaller:
    """POST /act over one keep-alive connection per thread (``traced``: POST /act_traced in live mode)."""

    def __init__(self, port: int, *, traced: bool = False) -> None:
        self.port = port
        self.traced = traced
        self.local = threading.local()

    def __call__(self, request: dict[str, Any]) -> Any:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        path, sent = "/act", request
        if self.traced:
            path, sent = "/act_traced", {"request": request, "mode": "live", "trace_id": "bench", "paired": None}
        connection.request("POST", path, body=json.dumps(sent), headers={"content-type": "application/json"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:200]!r}")
        return json.loads(body)["response"] if self.traced else json.loads(body)


def measure(
    call: Callable[[dict[str, Any]], Any],
    requests: list[dict[str, Any]],
    expected: list[Any],
    concurrency: int,
    rps: float | None = None,
) -> dict[str, Any]:
    latencies = [0.0] * len(requests)
    errors = [0]
    lock = threading.Lock()
    start = time.perf_counter()

    def one(index: int) -> None:
        if rps:  # paced: request i leaves at start + i / rps (or as soon as a thread is free)
            delay = start + index / rps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        began = time.perf_counter()
        try:
            ok = call(requests[index]) == expected[index]
        except Exception:
            ok = False
        latencies[index] = time.perf_counter() - began
        if not ok:
            with lock:
                errors[0] += 1

    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(len(requests))))
    return {"latencies": latencies, "wall": time.perf_counter() - wall, "errors": errors[0]}


def pooled(parts: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    latencies = sorted(x for p in parts for x in p["latencies"])
    return {
        "requests": len(latencies),
        "concurrency": concurrency,
        "p50_ms": round(1000 * statistics.median(latencies), 3),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
        "throughput_rps": round(len(latencies) / sum(p["wall"] for p in parts), 1),
        "errors": sum(p["errors"] for p in parts),
    }


def serve_direct(name: str, version: int, port: int) -> None:
    """The bare app: one version in process, POST /act in a thread pool; nothing else."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor as Pool

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from agentgov.core.config import load_config
    from agentgov.registry import load_agent

    agent = load_agent(f"{name}/{version}", load_config())
    pool = Pool(max_workers=16)

    async def act(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse(await asyncio.get_running_loop().run_in_executor(pool, agent.act, body))

    async def readyz(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True})

    app = Starlette(routes=[Route("/act", act, methods=["POST"]), Route("/readyz", readyz)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_ready(port: int, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not get ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def tree_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of ``pid`` and its descendants: the gateway's own processes, and its shadow hosts."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {"gateway": 0.0, "hosts": 0.0}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{current}/cmdline").read_bytes()
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        kind = "hosts" if b"agentgov.pipelines.gateway.host" in command else "gateway"
        found[kind] += (int(stat[11]) + int(stat[12])) / ticks
    return found


def metrics(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/metrics")
    return connection.getresponse().read().decode()


def drops(text: str) -> dict[str, float]:
    return {
        m[0]: float(m[1])
        for m in re.findall(r'agentgov_gateway_shadow_dropped_total\{[^}]*reason="(\w+)"\} ([0-9.e+]+)', text)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rps", type=float, help="pace the requests at this rate (default: as fast as they answer)")
    parser.add_argument("--pin", action="store_true", help="the shadow hosts on the last CPU, everything else on the others")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-direct", nargs=3, metavar=("NAME", "VERSION", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_direct:
        serve_direct(args.serve_direct[0], int(args.serve_direct[1]), int(args.serve_direct[2]))
        return

    shadow_cpus: list[str] = []
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least 2 CPUs")
        os.sched_setaffinity(0, cpus[:-1])  # inherited by every server this run starts
        shadow_cpus = ["--shadow-cpus", str(cpus[-1])]
    work = Path(tempfile.mkdtemp(prefix="agentgov-bench-gateway-"))
    os.environ.update({"AGENTGOV_HOME": str(work / "home"), "AGENTGOV_NO_SERVER": "1", "AGENTGOV_USER": "bench"})
    os.chdir(work)
    import yaml

    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins
    from agentgov.core.types import AgentRef
    from agentgov.deploy import process
    from agentgov.deploy.traffic import write_routing
    from agentgov.pipelines import serving
    from agentgov.pipelines.registration import register
    from agentgov.pipelines.runtime import free_port
    from agentgov.plugins.deploy.bentoml_local.bento import bentoml_env
    from agentgov.plugins.deploy.bentoml_local.target import serve_command
    from agentgov.registry.backend import connect

    config = load_config()
    home = Home(config.home)
    home.create()
    plugins = load_plugins(config)
    setup = time.perf_counter()

    def register_as(name: str, version_dir: str, entrypoint: str) -> int:
        folder = work / name / version_dir
        folder.mkdir(parents=True)
        for file in EXAMPLE.glob("*.py"):
            shutil.copy(file, folder)
        (folder / "router.py").write_text((EXAMPLE / "router.py").read_text() + FAULTY)
        manifest = yaml.safe_load((EXAMPLE / "agent.yaml").read_text())
        manifest.pop("datasets", None)
        manifest.update(name=name, entrypoint=f"router.py:{entrypoint}")
        (folder / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        return register(folder, config=config, audit=home.audit_log, plugins=plugins, actor="bench").version

    agent, served = "bench-gateway", "bench-served"
    for version_dir, entrypoint in (
        ("v1", "SupportRouter"),
        ("v2", "SupportRouter"),
        ("v3", "SleepyRouter"),
        ("v4", "BrokenRouter"),
    ):
        register_as(agent, version_dir, entrypoint)
    register_as(served, "v1", "SupportRouter")
    client = connect(config)
    for name in (agent, served):
        client.set_registered_model_alias(name, "production", "1")
    registered_s = time.perf_counter() - setup
    setup = time.perf_counter()
    built = serving.build(config, plugins, AgentRef(served, version=1))
    build_s = time.perf_counter() - setup

    sys.path.insert(0, str(work / agent / "v1"))
    from router import SupportRouter

    requests = requests_for(args.requests)
    expected = [SupportRouter().act(r) for r in requests]
    env = {**os.environ, "BENCH_FAULTS": "1"}
    executable = str(Path(sys.executable).parent / "agentgov")
    servers: list[tuple[subprocess.Popen, str | None]] = []

    def start(command: list[str], label: str, port: int, environ: dict[str, str] | None = None) -> None:
        log = work / f"{label}.log"
        with open(log, "wb") as out:
            server = subprocess.Popen(
                command, env=environ or env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        servers.append((server, process.start_time(server.pid)))
        wait_ready(port, server, log)

    ports = {label: free_port() for label in ("bento", "gateway-bento", "direct", "gateway")}
    try:
        setup = time.perf_counter()
        start(serve_command(built.artifact.tag, ports["bento"]), "bento", ports["bento"], bentoml_env(config.home))
        start(
            [
                executable,
                "gateway",
                served,
                "--port",
                str(ports["gateway-bento"]),
                "--upstream",
                f"1=http://127.0.0.1:{ports['bento']}",
            ],
            "gateway-bento",
            ports["gateway-bento"],
        )
        start([sys.executable, __file__, "--serve-direct", agent, "1", str(ports["direct"])], "direct", ports["direct"])
        start(
            [
                executable,
                "gateway",
                agent,
                "--port",
                str(ports["gateway"]),
                "--shadow-timeout",
                "2",
                *shadow_cpus,
            ],
            "gateway",
            ports["gateway"],
        )
        servers_s = time.perf_counter() - setup

        def route(shadow: int | None) -> Callable[[], None]:
            def apply() -> None:
                if shadow is None:
                    client.delete_registered_model_alias(agent, "shadow")
                else:
                    client.set_registered_model_alias(agent, "shadow", str(shadow))
                write_routing(config, agent, rollout_id="bench", mirror_share=1.0 if shadow else 0.0, client=client)
                deadline = time.monotonic() + 60
                while True:  # until the gateway answers by it (it loads a new version before it swaps)
                    connection = http.client.HTTPConnection("127.0.0.1", ports["gateway"], timeout=5)
                    connection.request("GET", "/routing")
                    if json.loads(connection.getresponse().read()).get("shadow") == shadow:
                        return
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the gateway did not take up shadow={shadow}")
                    time.sleep(0.1)

            return apply

        ways: dict[str, tuple[int, Callable[[], None] | None]] = {
            "bento direct": (ports["bento"], None),
            "bento direct, /act_traced": (ports["bento"], None),
            "gateway -> bento, mirroring off": (ports["gateway-bento"], None),
            "agent direct (bare app, in process)": (ports["direct"], None),
            "gateway, mirroring off": (ports["gateway"], route(None)),
            "gateway, healthy shadow": (ports["gateway"], route(2)),
            "gateway, shadow sleeps 5 s": (ports["gateway"], route(3)),
            "gateway, shadow raises": (ports["gateway"], route(4)),
        }
        callers = {label: HttpCaller(port, traced=label.endswith("/act_traced")) for label, (port, _) in ways.items()}
        for label, (_, prepare) in ways.items():  # warm-up: connections, first calls, every version loaded
            if prepare:
                prepare()
            measure(callers[label], requests[:200], expected, args.concurrency)
        parts: dict[str, list[dict[str, Any]]] = {label: [] for label in ways}
        dropped: dict[str, dict[str, float]] = {}
        cpu: dict[str, dict[str, float]] = {}
        pids = {port: server.pid for (server, _), port in zip(servers, ports.values(), strict=True)}
        per_round = max(1, len(requests) // args.rounds)
        for round_ in range(args.rounds):
            chunk = slice(round_ * per_round, (round_ + 1) * per_round)
            for label, (port, prepare) in ways.items():
                if prepare:
                    prepare()
                before = drops(metrics(port)) if port == ports["gateway"] else {}
                cpu_before = tree_cpu(pids[port])
                parts[label].append(
                    measure(callers[label], requests[chunk], expected[chunk], args.concurrency, args.rps)
                )
                if port == ports["gateway"]:
                    time.sleep(2.5)  # let the copies of this round finish or time out before counting
                    after = drops(metrics(port))
                    total = dropped.setdefault(label, {})
                    for reason, value in after.items():
                        total[reason] = total.get(reason, 0) + value - before.get(reason, 0)
                cpu_after = tree_cpu(pids[port])
                spent = cpu.setdefault(label, {"gateway": 0.0, "hosts": 0.0})
                for kind in spent:
                    spent[kind] += cpu_after[kind] - cpu_before[kind]
        results = {label: pooled(p, args.concurrency) for label, p in parts.items()}
        for label, counts in dropped.items():
            results[label]["shadow_dropped"] = {k: int(v) for k, v in counts.items() if v}
        for label, spent in cpu.items():
            n = results[label]["requests"]
            results[label]["cpu_us_per_request"] = {
                k: round(1e6 * v / n) for k, v in spent.items() if v or k == "gateway"
            }
    finally:
        for server, started in servers:
            process.stop(server.pid, started, timeout=20)
            server.wait(timeout=10)
        os.chdir(REPO)
        shutil.rmtree(work, ignore_errors=True)  # the home, its registry, bento and logs

    base = results["gateway, mirroring off"]
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 2),
            "python": sys.version.split()[0],
            "pinned": {"servers_and_callers": sorted(os.sched_getaffinity(0)), "shadow": shadow_cpus[1:]} if args.pin else None,
        },
        "setup_s": {
            "register_5_versions": round(registered_s, 1),
            "build_bento": round(build_s, 1),
            "servers_ready": round(servers_s, 1),
        },
        "results": results,
        "targets": {
            "gateway_p50_over_bento_ms": round(
                results["gateway -> bento, mirroring off"]["p50_ms"] - results["bento direct"]["p50_ms"], 3
            ),
            "gateway_p50_over_bento_act_traced_ms": round(
                results["gateway -> bento, mirroring off"]["p50_ms"] - results["bento direct, /act_traced"]["p50_ms"],
                3,
            ),
            "gateway_p50_over_agent_ms": round(
                base["p50_ms"] - results["agent direct (bare app, in process)"]["p50_ms"], 3
            ),
            **{
                f"p99_change_{label.removeprefix('gateway, ').replace(' ', '_')}_pct": round(
                    100 * (results[label]["p99_ms"] / base["p99_ms"] - 1), 1
                )
                for label in ("gateway, healthy shadow", "gateway, shadow sleeps 5 s", "gateway, shadow raises")
            },
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    machine = report["machine"]
    pinned = f"; pinned {machine['pinned']}" if machine["pinned"] else ""
    print(f"{machine['cpus']} CPUs, load {machine['load_1m']}; setup {report['setup_s']}{pinned}")
    print(f"{'way':38} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7}  server CPU us/request; shadow dropped")
    for label, r in results.items():
        print(
            f"{label:38} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} {r['throughput_rps']:8.1f} {r['errors']:7d}  "
            f"{r['cpu_us_per_request']} {r.get('shadow_dropped', '')}"
        )
    for name, value in report["targets"].items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
