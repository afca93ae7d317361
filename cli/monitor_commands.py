"""``agentgov monitor schedule|list|stop``: the drift monitor on a schedule, run by the home's control plane."""

from __future__ import annotations

import time
from typing import Any

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say, warn
from agentgov.core.errors import InvalidValue

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
DRIFT_MONITOR = "agentgov.pipelines.drift_monitor:drift_monitor"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """``30s``, ``10m``, ``1h`` or ``1d`` as seconds."""
    value = text.strip().lower()
    number, unit = value[:-1], value[-1:]
    if unit not in _UNITS or not number.isdigit() or int(number) == 0:
        raise InvalidValue(f"--every {text!r}: expected a number and a unit, such as 30s, 10m, 1h or 1d")
    return float(int(number) * _UNITS[unit])


def _every(seconds: float | None) -> str:
    if not seconds:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _when(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "-"


@click.group()
def monitor() -> None:
    """Run the drift monitor on a schedule: the home's control plane runs it as a Prefect flow at each interval.

    Schedules are kept in the home and survive a restart of the control plane;
    while one is active the control plane does not stop for idleness.
    """


@monitor.command("schedule")
@click.argument("names", nargs=-1)
@click.option("--all", "all_agents", is_flag=True, help="Every agent with a version in production or shadow.")
@click.option("--every", "every", required=True, help="How often: 30s, 10m, 1h, 1d.")
@click.option(
    "--window", default="24h", show_default=True, help="How far back each check's traffic goes: 30m, 24h, 7d..."
)
@click.option(
    "--reference",
    default="production-window",
    show_default=True,
    help="eval (the version's eval dataset), production-window (production traffic in the window before) or a FILE.",
)
@_JSON
@click.pass_obj
def schedule(
    state: State, names: tuple[str, ...], all_agents: bool, every: str, window: str, reference: str, as_json: bool
) -> None:
    """Check drift of agents NAMES (or --all) every --every, as the `drift-monitor` flow; print the schedule's id."""
    from agentgov.evals.inference_log import parse_window
    from agentgov.pipelines import control_plane, runner

    if bool(names) == all_agents:
        raise InvalidValue("name the agents to monitor, or give --all (not both)")
    seconds = parse_every(every)
    parse_window(window)  # checked now, not at the first run
    kwargs: dict[str, Any] = {"reference": reference, "window": window, "agents": list(names) or None}
    what = ", ".join(names) if names else "all agents in production or shadow"
    job = runner.submit(
        state.config.home,
        DRIFT_MONITOR,
        kwargs=kwargs,
        every_s=seconds,
        name=f"drift-monitor {what}",
        owner=state.config.user,
    )
    state.home.audit_log.append(
        actor=state.config.user,
        action="monitor.schedule",
        subject=",".join(names) or "*",
        payload={"job": job.id, "every_s": seconds, **kwargs},
    )
    if as_json:
        print_json(job.to_dict())
    else:
        say(f"Scheduled drift-monitor {job.id}: {what}, every {_every(seconds)} (window {window} against {reference}).")
        say(
            "The home's control plane runs it as a Prefect flow (first run now; see the Prefect UI); "
            f"`agentgov monitor list` shows it, `agentgov monitor stop {job.id}` stops it."
        )
    if control_plane.running(state.config.home) is None:
        warn("no control plane runs for this home now: the schedule starts when one does (`agentgov server start`)")


@monitor.command("list")
@click.option("--all", "include_ended", is_flag=True, help="Include stopped schedules.")
@_JSON
@click.pass_obj
def list_(state: State, include_ended: bool, as_json: bool) -> None:
    """List the drift monitor's schedules: how often, how many runs, how the last one ended, when the next is due."""
    from agentgov.pipelines import runner

    found = [j for j in runner.jobs(state.config.home, include_ended=include_ended) if j.target == DRIFT_MONITOR]
    if as_json:
        print_json([j.to_dict() for j in found])
        return
    if not found:
        say("No drift-monitor schedules: `agentgov monitor schedule --all --every 1h`.")
        return
    rows = [
        (
            j.id,
            ", ".join(j.kwargs.get("agents") or []) or "(all)",
            _every(j.every_s),
            j.kwargs.get("window", ""),
            j.runs,
            _when(j.last_started_at),
            j.last_result or "-",
            _when(j.next_due()) if j.active else j.status,
        )
        for j in found
    ]
    print_table(
        ("ID", "Agents", "Every", "Window", "Runs", "Last run", "Result", "Next"), rows, title="Drift-monitor schedules"
    )


@monitor.command("stop")
@click.argument("job_id", metavar="ID")
@_JSON
@click.pass_obj
def stop(state: State, job_id: str, as_json: bool) -> None:
    """Stop schedule ID (a unique prefix will do); a run in progress is cancelled."""
    from agentgov.pipelines import runner

    job = runner.cancel(state.config.home, job_id, by=state.config.user)
    state.home.audit_log.append(
        actor=state.config.user, action="monitor.stop", subject=job.name, payload={"job": job.id, "status": job.status}
    )
    if as_json:
        print_json(job.to_dict())
    else:
        say(f"Stopped schedule {job.id} ({job.name}) after {job.runs} run(s).")


COMMANDS = (monitor,)
