"""Register, promote and list versions with 1, 100 and 1,000 versions in the registry,
next to the raw MLflow calls they are built on, on each backend.

    python benchmarks/registry.py [--sizes 1,100,1000] [--backends sqlite,server] [--repeat 3]

"server" starts a real `mlflow server` on a fresh PostgreSQL database (127.0.0.1:5432,
user postgres) and drops the database afterwards. The registry is filled to each size by
creating versions of one logged model (as a fleet of retrainings would); the timed
`register` logs and registers a real new version each time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "support-router"


@contextmanager
def server(workdir: Path) -> Iterator[str]:
    import psycopg2

    from agentgov.pipelines.runtime import free_port

    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    database = f"agentgov_bench_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f"CREATE DATABASE {database}")
    port = free_port()
    log = open(workdir / "server.log", "w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
         f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}", "--artifacts-destination",
         (workdir / "artifacts").as_uri(), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=30)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def timed(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_backend(backend: str, sizes: list[int], repeat: int) -> list[tuple]:
    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins
    from agentgov.registry.backend import connect

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        os.environ["AGENTGOV_HOME"] = str(work / "home")
        os.environ["AGENTGOV_USER"] = "bench"
        os.environ.pop("AGENTGOV_TRACKING_URI", None)
        with server(work) if backend == "server" else _nothing() as uri:
            if uri:
                os.environ["AGENTGOV_TRACKING_URI"] = uri
            config = load_config()
            home = Home(config.home)
            plugins = load_plugins(config, entrypoints=False)
            client = connect(config)
            for size in sizes:
                rows.append(_measure(backend, size, work, config, home, plugins, client, repeat))
    return rows


def _measure(backend: str, size: int, work: Path, config, home, plugins, client, repeat: int) -> tuple:
    import mlflow

    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import promote
    from agentgov.pipelines.registration import register
    from agentgov.registry.backend import quiet
    from agentgov.registry.store import versions

    agent = work / f"agent-{size}"
    shutil.copytree(EXAMPLE, agent)
    name = f"bench-{size}"
    manifest = agent / "agent.yaml"
    manifest.write_text(manifest.read_text().replace("name: support-router", f"name: {name}"))

    def do_register() -> object:
        return register(agent, config=config, audit=home.audit_log, plugins=plugins, actor="bench")

    first = do_register()
    base = client.get_model_version(name, str(first.version))
    started = time.perf_counter()
    with quiet():
        for _ in range(size - 1):
            client.create_model_version(
                name, source=base.source, run_id=base.run_id, tags=dict(base.tags),
                model_id=base.model_id or base.source.removeprefix("models:/"),
            )
    fill = time.perf_counter() - started
    count = len(versions(client, name))
    t_register = timed(do_register, repeat)

    def raw_register() -> None:

        from agentgov.registry.packaging import WRAPPER

        with quiet(), mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="agent", python_model=str(WRAPPER), code_paths=[str(agent / "router.py")],
                model_config={"module": "router", "class": "SupportRouter"}, pip_requirements=["mlflow==3.17.2"],
            )
        with quiet():
            client.create_model_version(name, source=info.model_uri, model_id=info.model_id)

    t_raw_register = timed(raw_register, repeat)
    candidates = iter(range(2, size + 1 + 2 * repeat))
    t_promote = timed(lambda: promote(config, AgentRef(name, version=next(candidates)), Stage.SHADOW,
                                      actor="bench", audit=home.audit_log, plugins=plugins), repeat)
    t_raw_alias = timed(lambda: client.set_registered_model_alias(name, "shadow", "1"), repeat)
    t_versions = timed(lambda: versions(client, name), repeat)
    with quiet():
        t_raw_search = timed(lambda: client.search_model_versions(f"name = '{name}'", max_results=10000), repeat)
    row = (backend, count, fill, t_register, t_raw_register, t_promote, t_raw_alias, t_versions, t_raw_search)
    print(_format(row), flush=True)
    return row


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


HEADER = (
    f"{'backend':<8} {'versions':>8} {'fill s':>8} {'register s':>10} {'raw log+create s':>16} "
    f"{'promote s':>9} {'raw alias s':>11} {'versions s':>10} {'raw search s':>12}"
)


def _format(row: tuple) -> str:
    backend, count, *times = row
    widths = (8, 10, 16, 9, 11, 10, 12)
    return f"{backend:<8} {count:>8} " + " ".join(f"{t:>{w}.3f}" for t, w in zip(times, widths, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--backends", default="sqlite,server")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print("median of", args.repeat, "runs each; 'raw' columns are the bare MLflow calls agentgov wraps")
    print(HEADER, flush=True)
    for backend in args.backends.split(","):
        run_backend(backend, sizes, args.repeat)


if __name__ == "__main__":
    main()
