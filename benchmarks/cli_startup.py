"""How long `agentgov --help` takes, next to its peers, in one run.

    python benchmarks/cli_startup.py [--runs 10]

Target: agentgov --help under 0.5 s wall time, importing none of the heavy
libraries. The peers are the bare interpreter (the floor) and the command
lines of the libraries agentgov drives, measured the same way in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("mlflow", "prefect", "evidently", "great_expectations", "bentoml", "dvc", "pandas")
BIN = Path(sys.executable).parent


def wall_times(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, capture_output=True, check=False)  # warm the file cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


def imported_heavy_modules() -> list[str]:
    probe = (
        "import sys\nfrom agentgov.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("HEAVY="))
    return [m for m in line.removeprefix("HEAVY=").split(",") if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--peer-runs", type=int, default=3, help="runs for the slow peers")
    args = parser.parse_args()

    agentgov = shutil.which("agentgov", path=str(BIN)) or "agentgov"
    rows = [("python -c pass (floor)", [sys.executable, "-c", "pass"], args.runs), ("agentgov --help", [agentgov, "--help"], args.runs)]
    rows.append(("agentgov version", [agentgov, "version"], args.runs))
    for name in ("mlflow", "prefect", "dvc", "bentoml"):
        found = shutil.which(name, path=str(BIN))
        if found:
            rows.append((f"{name} --help (peer)", [found, "--help"], args.peer_runs))

    print(f"{'command':<28} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}")
    results = {}
    for label, command, runs in rows:
        times = wall_times(command, runs)
        results[label] = statistics.median(times)
        print(f"{label:<28} {runs:>4} {statistics.median(times):>9.3f} {min(times):>7.3f} {max(times):>7.3f}")
    heavy = imported_heavy_modules()
    help_median = results["agentgov --help"]
    print()
    print(f"agentgov --help imports of {', '.join(HEAVY)}: {', '.join(heavy) or 'none'}")
    print(f"target: median under 0.500 s -> {'met' if help_median < 0.5 and not heavy else 'NOT MET'} ({help_median:.3f} s)")


if __name__ == "__main__":
    main()
