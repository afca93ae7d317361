"""What running a command's work as a Prefect flow costs, as a CLI user sees it.

    python benchmarks/prefect_overhead.py [--runs 3]

Each run is a new process (interpreter start, imports, the flow, exit) around
a trivial body, timed from outside: a plain function; Prefect's own default
ephemeral mode; agentgov's ``run_flow`` with an embedded server, first in a
fresh home (database created) and then warm; and ``run_flow`` while
``agentgov server start`` runs for the home. The last column counts the lines
each printed on stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = '''
import sys

def body(n):
    return n + 1

mode = sys.argv[1]
if mode == "plain":
    print(body(1))
else:
    from prefect import flow

    trivial = flow(name="trivial")(body)
    if mode == "prefect-default":
        print(trivial(1))
    else:
        from agentgov.core.config import load_config
        from agentgov.pipelines.runtime import run_flow

        print(run_flow(trivial, 1, config=load_config()))
'''


def timed(script: Path, mode: str, env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or done.stdout.strip() != "2":
        raise SystemExit(f"{mode} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return elapsed, len(done.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs

    from agentgov.core.config import load_config
    from agentgov.pipelines import server
    from agentgov.pipelines.runtime import free_port

    scratch = Path(tempfile.mkdtemp(prefix="agentgov-prefect-bench-"))
    script = scratch / "trivial.py"
    script.write_text(SCRIPT)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AGENTGOV_"))}

    def env(name: str, **extra: str) -> dict[str, str]:
        (scratch / name / "prefect-default").mkdir(parents=True, exist_ok=True)
        return {**base, "AGENTGOV_HOME": str(scratch / name), "PREFECT_HOME": str(scratch / name / "prefect-default"), **extra}

    results: list[tuple[str, list[float], int]] = []

    def measure(label: str, mode: str, make_env) -> None:
        times, lines = [], 0
        for i in range(runs):
            elapsed, printed = timed(script, mode, make_env(i))
            times.append(elapsed)
            lines = max(lines, printed)
        results.append((label, times, lines))
        print(f"  {label}: {', '.join(f'{t:.2f}' for t in times)} s", file=sys.stderr)

    measure("plain function", "plain", lambda i: env("plain"))
    measure("Prefect default ephemeral, fresh PREFECT_HOME", "prefect-default", lambda i: env(f"pd-cold-{i}"))
    timed(script, "prefect-default", env("pd-warm"))
    measure("Prefect default ephemeral, warm", "prefect-default", lambda i: env("pd-warm"))
    measure("agentgov run_flow embedded, fresh home", "run_flow", lambda i: env(f"ag-cold-{i}"))
    timed(script, "run_flow", env("ag-warm"))
    measure("agentgov run_flow embedded, warm", "run_flow", lambda i: env("ag-warm"))

    served = env("ag-served")
    config = load_config(environ=served)
    try:
        server.start(config, port=free_port())
        timed(script, "run_flow", served)
        measure("agentgov run_flow, `agentgov server` running", "run_flow", lambda i: served)
    finally:
        server.stop(config)

    plain = statistics.median(results[0][1])
    print(f"\nPer-command wall time, {runs} runs each ({sys.platform}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})\n")
    print(f"| {'mode':<50} | median s | min s | max s | overhead s | stderr lines |")
    print(f"|{'-' * 52}|---------:|------:|------:|-----------:|-------------:|")
    for label, times, lines in results:
        median = statistics.median(times)
        print(
            f"| {label:<50} | {median:8.2f} | {min(times):5.2f} | {max(times):5.2f} | {median - plain:10.2f} | {lines:12d} |"
        )


if __name__ == "__main__":
    main()
