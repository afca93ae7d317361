"""The example agent three ways, in one run: its class called in process, through agentgov's runtime
(``LoadedAgent.act``, as ``load_agent`` gives it), and over HTTP to its bento served by ``bentoml serve``.

    python benchmarks/serving.py [--requests 2000] [--concurrency 8] [--json]

Each way answers the same requests from ``CONCURRENCY`` threads at once (HTTP: one
keep-alive connection per thread to 127.0.0.1); the figures are per-request latency
p50 and p99, throughput (requests per second of wall time), and errors (exceptions,
HTTP status other than 200, or an answer different from the in-process one). A fresh
home is made in a temporary folder: the agent is registered (no Prefect), its bento
built with BentoML, served on a free loopback port, and stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
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


def requests_for(n: int) -> list[dict[str, str]]:
    return [{"subject": s, "body": f"{b} (#{i})"} for i, (s, b) in ((i, TEXTS[i % len(TEXTS)]) for i in range(n))]


def measure(
    call: Callable[[dict[str, Any]], Any], requests: list[dict[str, Any]], expected: list[Any], concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = [0.0] * len(requests)
    errors = [0]
    lock = threading.Lock()

    def one(index: int) -> None:
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
    wall = time.perf_counter() - wall
    ordered = sorted(latencies)
    return {
        "requests": len(requests),
        "concurrency": concurrency,
        "p50_ms": round(1000 * statistics.median(ordered), 3),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "throughput_rps": round(len(requests) / wall, 1),
        "errors": errors[0],
    }


class HttpCaller:
    """POST /act over one keep-alive connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def __call__(self, request: dict[str, Any]) -> Any:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("POST", "/act", body=json.dumps(request), headers={"content-type": "application/json"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:200]!r}")
        return json.loads(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="agentgov-bench-serving-"))
    os.environ.update({"AGENTGOV_HOME": str(work / "home"), "AGENTGOV_NO_SERVER": "1", "AGENTGOV_USER": "bench"})
    os.chdir(work)
    import yaml

    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins
    from agentgov.core.types import AgentRef
    from agentgov.deploy import process
    from agentgov.pipelines import serving
    from agentgov.pipelines.registration import register
    from agentgov.pipelines.runtime import free_port
    from agentgov.plugins.deploy.bentoml_local.bento import bentoml_env
    from agentgov.plugins.deploy.bentoml_local.target import serve_command
    from agentgov.registry import load_agent

    agent_dir = work / "agent"
    agent_dir.mkdir()
    for file in EXAMPLE.glob("*.py"):
        shutil.copy(file, agent_dir)
    manifest = yaml.safe_load((EXAMPLE / "agent.yaml").read_text())
    manifest.pop("datasets", None)
    (agent_dir / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    config = load_config()
    home = Home(config.home)
    home.create()
    plugins = load_plugins(config)
    setup = time.perf_counter()
    version = register(agent_dir, config=config, audit=home.audit_log, plugins=plugins, actor="bench")
    registered = time.perf_counter() - setup
    setup = time.perf_counter()
    built = serving.build(config, plugins, AgentRef(version.name, version=version.version))
    build_s = time.perf_counter() - setup

    sys.path.insert(0, str(agent_dir))
    from router import SupportRouter  # the agent's own class, as its author runs it

    requests = requests_for(args.requests)
    plain = SupportRouter()
    expected = [plain.act(r) for r in requests]
    loaded = load_agent(version.ref, config)
    results: dict[str, Any] = {}
    results["in process (the agent's class)"] = measure(plain.act, requests, expected, args.concurrency)
    results["through the runtime (LoadedAgent.act)"] = measure(loaded.act, requests, expected, args.concurrency)

    port = free_port()
    log = open(work / "serve.log", "wb")
    server = subprocess.Popen(
        serve_command(built.artifact.tag, port),
        env=bentoml_env(config.home),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = process.start_time(server.pid)
    try:
        setup = time.perf_counter()
        process.wait_until_ready(
            f"http://127.0.0.1:{port}/readyz",
            running=lambda: server.poll() is None,
            timeout=180,
            log=work / "serve.log",
        )
        ready_s = time.perf_counter() - setup
        caller = HttpCaller(port)
        measure(
            caller, requests[: min(200, len(requests))], expected, args.concurrency
        )  # warm-up: connections, first calls
        results["over HTTP (bentoml serve, POST /act)"] = measure(caller, requests, expected, args.concurrency)
    finally:
        process.stop(server.pid, started, timeout=15)
        server.wait(timeout=10)
        log.close()

    report = {
        "machine": {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2), "python": sys.version.split()[0]},
        "setup_s": {
            "register": round(registered, 2),
            "build_bento": round(build_s, 2),
            "serve_ready": round(ready_s, 2),
        },
        "bento": built.artifact.tag,
        "bento_reused": built.artifact.reused,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{os.cpu_count()} CPUs, load {report['machine']['load_1m']}; register {registered:.1f} s, build {build_s:.1f} s, serve ready {ready_s:.1f} s"
        )
        print(f"{'way':42} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9} {'errors':>7}")
        for name, r in results.items():
            print(f"{name:42} {r['p50_ms']:9.3f} {r['p99_ms']:9.3f} {r['throughput_rps']:9.1f} {r['errors']:7d}")
        print(f"({args.requests} requests each, {args.concurrency} at a time)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
