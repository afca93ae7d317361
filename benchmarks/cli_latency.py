"""How long agentgov's commands take as a user sees them: with a warm control plane, cold, and the bare calls they wrap.

    python benchmarks/cli_latency.py [--runs 3]

In one run and on one home (a copy of examples/support-router): each of
``versions``, ``agents``, ``show``, ``history``, ``audit verify``,
``promote --dry-run``, ``promote``, ``rollback`` and ``register``

* **warm**: through the home's control plane (``agentgov server``), started
  beforehand;
* **cold**: ``--no-server``, the command in a process of its own, as before;
* **bare**: a new Python process doing only the MLflow client call(s) the
  command wraps (no agentgov, no Prefect);

plus the first command in a fresh home, the control plane's start included
(and whether it printed its status line), and the control plane's HTTP API
answering ``GET /api/v1/agents`` and ``.../versions`` (the console's and the
gateway's reads; timed from this process, connection included). Each figure is the median of
``--runs`` new processes, timed from outside. Prints a markdown table and the
load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AGENTGOV = str(Path(sys.executable).parent / "agentgov")
NAME = "support-router"

BARE = textwrap.dedent(
    '''
    import sys, time
    import mlflow
    from mlflow import MlflowClient

    what, uri, folder = sys.argv[1], sys.argv[2], sys.argv[3]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = "support-router"
    if what == "read":  # versions, show, agents: the registry's search
        client.search_model_versions(f"name='{name}'")
    elif what == "aliases":  # history's cross-check
        client.get_registered_model(name).aliases
    elif what == "move":  # promote, rollback: an alias and a tag
        version = client.get_model_version_by_alias(name, "production").version
        client.set_registered_model_alias(name, "production", version)
        client.set_model_version_tag(name, version, "agentgov.stage", "production")
    elif what == "register":  # log a model from code and register it
        mlflow.set_experiment("bare")
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="agent", python_model=folder + "/bare_model.py", input_example={"text": "hi"})
        mlflow.register_model(info.model_uri, "bare-router")
    '''
)

BARE_MODEL = textwrap.dedent(
    '''
    import mlflow
    from mlflow.pyfunc import PythonModel


    class Echo(PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input


    mlflow.models.set_model(Echo())
    '''
)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = root / "project"
        self.home = root / "home"
        self.project.mkdir(parents=True)
        agent = self.project / "sr"
        agent.mkdir()
        for name in ("agent.yaml", "router.py"):
            shutil.copy(REPO / "examples" / "support-router" / name, agent / name)
        (root / "bare_model.py").write_text(BARE_MODEL)
        (root / "bare.py").write_text(BARE)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTGOV_", "MLFLOW_")) and k != "PREFECT_API_URL"}
        self.env.update({"AGENTGOV_HOME": str(self.home), "AGENTGOV_USER": "bench", "AGENTGOV_SERVER_IDLE": "600"})

    def agentgov(self, *args: str, server: bool) -> tuple[float, subprocess.CompletedProcess[str]]:
        env = {**self.env, "AGENTGOV_NO_SERVER": "0" if server else "1"}
        began = time.perf_counter()
        done = subprocess.run([AGENTGOV, *args], cwd=self.project, env=env, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"agentgov {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
        return elapsed, done

    def bare(self, what: str) -> float:
        uri = f"sqlite:///{self.home / 'mlflow.db'}"
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(self.root / "bare.py"), what, uri, str(self.root)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"bare {what} failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - began

    def latest(self) -> int:
        _, done = self.agentgov("versions", NAME, "--json", server=True)
        data = json.loads(done.stdout)
        versions = data["versions"] if isinstance(data, dict) else data
        return max(int(v["version"]) for v in versions)


def api_get(url: str, token: str) -> float:
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()
    return time.perf_counter() - began


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print(f"load average before: {load()}  ({os.cpu_count()} cores, {runs} runs each)")
    root = Path(tempfile.mkdtemp(prefix="agentgov-cli-latency-"))
    from agentgov.pipelines import control_plane

    bench = Bench(root / "main")
    fresh = Bench(root / "fresh")
    try:
        # The first command in a fresh home: the control plane starts, then runs it.
        Path(fresh.home).mkdir(parents=True)
        first, done = fresh.agentgov("agents", server=True)
        status_line = done.stderr.splitlines()[0] if done.stderr else "(none)"
        control_plane.stop(fresh.home)

        Path(bench.home).mkdir(parents=True)
        bench.agentgov("register", "sr", server=True)  # starts the control plane; version 1
        bench.agentgov("promote", NAME, "1", "--to", "production", server=True)
        bench.agentgov("register", "sr", server=True)  # version 2, a candidate: what promote --dry-run asks about
        rows: list[tuple[str, float, float | None, float | None]] = []
        reads: list[tuple[str, tuple[str, ...], str | None]] = [
            ("versions", ("versions", NAME), "read"),
            ("agents", ("agents",), "read"),
            ("show", ("show", NAME, "1"), "read"),
            ("history", ("history", NAME), "aliases"),
            ("audit verify", ("audit", "verify"), None),
            ("promote --dry-run", ("promote", NAME, "2", "--to", "shadow", "--dry-run"), "read"),
        ]
        for label, args, bare in reads:
            warm = median([bench.agentgov(*args, server=True)[0] for _ in range(runs)])
            cold = median([bench.agentgov(*args, server=False)[0] for _ in range(runs)])
            rows.append((label, warm, cold, median([bench.bare(bare) for _ in range(runs)]) if bare else None))
        plane = control_plane.running(bench.home)
        token = control_plane.read_token(bench.home)
        if plane is not None and plane.api_url and token:
            for label, path in (("API GET /agents", "/agents"), ("API GET /agents/NAME/versions", f"/agents/{NAME}/versions")):
                rows.append((label, median([api_get(plane.api_url + path, token) for _ in range(max(runs, 5))]), None, None))

        # register, promote (to production) and rollback, each round on a new version.
        timings: dict[tuple[str, bool], list[float]] = {}
        for server in (True, False):
            for _ in range(runs):
                timings.setdefault(("register", server), []).append(bench.agentgov("register", "sr", server=server)[0])
                version = str(bench.latest())
                timings.setdefault(("promote", server), []).append(
                    bench.agentgov("promote", NAME, version, "--to", "production", server=server)[0]
                )
                timings.setdefault(("rollback", server), []).append(bench.agentgov("rollback", NAME, server=server)[0])
        bare_move = median([bench.bare("move") for _ in range(runs)])
        bare_register = median([bench.bare("register") for _ in range(runs)])
        for label, bare_value in (("promote", bare_move), ("rollback", bare_move), ("register", bare_register)):
            rows.append((label, median(timings[(label, True)]), median(timings[(label, False)]), bare_value))

        print()
        print("| command | warm (control plane) | cold (--no-server) | bare MLflow calls | warm - bare |")
        print("|---|---|---|---|---|")
        for label, warm, cold, bare in rows:
            print(f"| {label} | {fmt(warm)} | {fmt(cold)} | {fmt(bare)} | {fmt(None if bare is None else warm - bare)} |")
        print(f"| first command in a fresh home (control plane start included) | {fmt(first)} | | | |")
        print(f"\nstatus line while it started: {status_line!r}")
        print(f"load average after: {load()}")
    finally:
        control_plane.stop(bench.home)
        control_plane.stop(fresh.home)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
