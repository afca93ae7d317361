"""``agentgov rollout start|status|pause|resume|abort`` and ``agentgov traffic replay``.

Exit status of ``rollout start`` and ``rollout resume``: 0 the candidate
reached production, 1 rolled back or aborted, 3 paused for a person (an
inconclusive step, or a gate that needs review), 2 bad input.
"""

from __future__ import annotations

import threading
from typing import Any

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say, warn

ROLLOUT_FLOW = "agentgov.pipelines.rollout.flow:rollout"
PAUSED_EXIT = 3
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _context(state: State) -> Any:
    from agentgov.pipelines.rollout.controller import Context

    return Context(state.config, state.plugins, state.home.audit_log)


@click.group()
def rollout() -> None:
    """Roll a version out through shadow, canary and production, as a plan says (`agentgov rollout start --help`).

    The rollout's state lives in the registry, so it can be watched, paused,
    resumed or aborted from any machine that shares it.
    """


@rollout.command("start")
@click.argument("name")
@click.argument("version", type=int)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    help="A rollout plan (TOML); default: agentgov's default plan.",
)
@click.option("--detach", is_flag=True, help="Hand the rollout to the home's control plane and return at once.")
@click.option("--poll-s", type=float, default=5.0, show_default=True, help="Seconds between looks at the traffic.")
@_JSON
@click.pass_obj
def start(
    state: State, name: str, version: int, plan_file: str | None, detach: bool, poll_s: float, as_json: bool
) -> None:
    """Start rolling out VERSION of agent NAME and run the plan as the `rollout` Prefect flow."""
    from agentgov.deploy.plan import default_plan, load_plan
    from agentgov.pipelines.rollout import actions

    plan = load_plan(plan_file) if plan_file else default_plan()
    begun = actions.start(_context(state), name, version, plan, actor=state.config.user)
    if not as_json:
        steps = " -> ".join(_step(s) for s in begun.steps)
        say(f"Rollout {begun.id} of {name}/{version} (plan {plan.name}: {steps}); production is v{begun.baseline}.")
    _run(state, name, detach=detach, poll_s=poll_s, as_json=as_json)


@rollout.command("resume")
@click.argument("name")
@click.option(
    "--accept",
    is_flag=True,
    help="Accept the inconclusive step (or gate) the rollout waits on; recorded with your name.",
)
@click.option("--detach", is_flag=True, help="Hand the rollout to the home's control plane and return at once.")
@click.option("--poll-s", type=float, default=5.0, show_default=True, help="Seconds between looks at the traffic.")
@_JSON
@click.pass_obj
def resume(state: State, name: str, accept: bool, detach: bool, poll_s: float, as_json: bool) -> None:
    """Go on with the paused (or interrupted) rollout of NAME from where its state stands."""
    from agentgov.pipelines.rollout import actions

    resumed = actions.resume(_context(state), name, actor=state.config.user, accept=accept)
    if not as_json:
        say(
            f"Rollout {resumed.id} of {name}/{resumed.candidate}: resumed at {resumed.describe_step()}"
            + (" (accepted)" if accept else "")
            + "."
        )
    _run(state, name, detach=detach, poll_s=poll_s, as_json=as_json)


@rollout.command("pause")
@click.argument("name")
@_JSON
@click.pass_obj
def pause(state: State, name: str, as_json: bool) -> None:
    """Pause the rollout of NAME: it holds its step (traffic as it is) until `rollout resume` or `abort`."""
    from agentgov.pipelines.rollout import actions

    paused = actions.pause(_context(state), name, actor=state.config.user)
    print_json(paused.to_dict()) if as_json else say(
        f"Rollout {paused.id} of {name}: paused at {paused.describe_step()} by {state.config.user}."
    )


@rollout.command("abort")
@click.argument("name")
@_JSON
@click.pass_obj
def abort(state: State, name: str, as_json: bool) -> None:
    """End the rollout of NAME: no more traffic to the candidate, production as before the rollout."""
    from agentgov.pipelines.rollout import actions

    ended = actions.abort(_context(state), name, actor=state.config.user)
    print_json(ended.to_dict()) if as_json else say(
        f"Rollout {ended.id} of {name}: aborted by {state.config.user}; production is v{ended.baseline}."
    )


@rollout.command("status")
@click.argument("name")
@_JSON
@click.pass_obj
def status_(state: State, name: str, as_json: bool) -> None:
    """Where the rollout of NAME stands: the step, the traffic per arm, each metric against its margin, what it waits for."""
    from agentgov.pipelines.rollout.report import report

    found = report(_context(state), name)
    if as_json:
        print_json(found)
        return
    r = found["rollout"]
    say(
        f"Rollout {r['id']} of {name}/{r['candidate']} (production before: v{r['baseline']}), started by {r['started_by']} at {r['started_at'][:19]}"
    )
    say(
        f"status: {r['status']}"
        + (f" ({r['reason']})" if r.get("reason") else "")
        + f"  step: {found['step']}  phase: {r['phase']}"
    )
    routing = found.get("routing") or {}
    say(
        f"routing: production v{routing.get('production')}, canary {_v(routing.get('canary'))} at {routing.get('canary_weight', 0):g}, shadow {_v(routing.get('shadow'))} mirroring {routing.get('mirror_share', 0):g}"
    )
    analysis = found.get("analysis")
    if analysis:
        counts = analysis["counts"]
        say(
            f"traffic in step {analysis['step'] + 1} ({analysis['minutes']:.1f} min): production {counts['production']}, candidate {counts['candidate']}"
        )
        rows = [
            (
                c["check"],
                c["verdict"],
                _num(c.get("baseline")),
                _num(c.get("candidate")),
                _interval(c.get("interval")),
                _num(c.get("margin")),
                c.get("min_n") or "-",
                c.get("reason", ""),
            )
            for c in analysis["checks"]
        ]
        print_table(
            ("Check", "Verdict", "Production", "Candidate", "Interval", "Margin", "Min n", "Why"),
            rows,
            title=f"Analysis of step {analysis['step'] + 1} ({analysis['kind']})",
        )
        spent = next((c for c in analysis["checks"] if c["check"] == "shadow_agreement"), {})
        deltas = [
            f"{what} {spent[key]:+.4g}"
            for what, key in (("latency", "mean_latency_delta_ms"), ("cost", "mean_cost_delta"), ("tokens", "mean_tokens_delta"))
            if spent.get(key) is not None
        ]
        if deltas:
            say(f"per pair, shadow minus production (mean): {', '.join(deltas)} (latency in ms)")
    say(f"waiting for: {found['waiting_for']}")


def _run(state: State, name: str, *, detach: bool, poll_s: float, as_json: bool) -> None:
    """Drive the rollout: in the control plane (``detach``) or here, as a flow run, with a line per change."""
    from agentgov.pipelines.rollout.state import PAUSED, SUCCEEDED, RolloutState

    if detach and _detach(state, name, poll_s, as_json):
        return
    from agentgov.pipelines.runtime import run_flow

    stop = threading.Event()
    watcher = None if as_json else threading.Thread(target=_watch, args=(state, name, stop), daemon=True)
    if watcher is not None:
        watcher.start()
    try:
        outcome = run_flow(ROLLOUT_FLOW, config=state.config, console=state.debug, name=name, poll_s=poll_s)
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=5)
    final = RolloutState.from_dict(outcome)
    if as_json:
        print_json(final.to_dict())
    else:
        say(f"Rollout {final.id} of {name}/{final.candidate}: {final.status.replace('_', ' ')}: {final.detail}")
        if final.status == PAUSED:
            say(
                f"It waits for a person: `agentgov rollout resume {name} --accept` (not as the registrant) or `agentgov rollout abort {name}`."
            )
    if final.status == PAUSED:
        raise SystemExit(PAUSED_EXIT)
    if final.status != SUCCEEDED:
        raise SystemExit(1)


def _detach(state: State, name: str, poll_s: float, as_json: bool) -> bool:
    """Submit the flow as a job of the home's control plane; False when there is no runner to take it."""
    try:
        from agentgov.pipelines import control_plane, runner
    except ImportError:
        warn("no control plane runner in this installation: running the rollout here")
        return False
    job = runner.submit(
        state.config.home,
        ROLLOUT_FLOW,
        kwargs={"name": name, "poll_s": poll_s},
        name=f"rollout {name}",
        owner=state.config.user,
    )
    state.home.audit_log.append(
        actor=state.config.user, action="rollout.detached", subject=name, payload={"job": job.id}
    )
    if as_json:
        print_json(job.to_dict())
    else:
        say(f"The control plane runs it as job {job.id}: `agentgov rollout status {name}` shows where it stands.")
    if control_plane.running(state.config.home) is None:
        warn("no control plane runs for this home now: the rollout goes on when one starts (`agentgov server start`)")
    return True


def _watch(state: State, name: str, stop: threading.Event, every_s: float = 10.0) -> None:
    """Print a line whenever the rollout's committed state changes (read from the registry, as any machine would),
    and every ``every_s`` while a step collects traffic: the counts per arm and what the controller waits for."""
    import time

    from agentgov.pipelines.rollout.report import report
    from agentgov.pipelines.rollout.state import OBSERVING, RUNNING

    ctx, seen, counted = _context(state), None, time.monotonic()
    while not stop.wait(1.0):
        try:
            found = report(ctx, name)
        except Exception:
            continue  # a read that failed now is tried again in a second; the flow reports real failures
        current = found["rollout"]
        shown = (current["status"], current["step"], current["phase"], current["detail"])
        if shown != seen:
            seen, counted = shown, time.monotonic()
            click.echo(
                f"  {current['updated_at'][11:19]}  {current['status']:<11} {found['step']:<32} {current['detail']}"
            )
        elif current["status"] == RUNNING and current["phase"] == OBSERVING and time.monotonic() - counted >= every_s:
            counted = time.monotonic()
            counts = (found.get("analysis") or {}).get("counts", {})
            click.echo(
                f"  {time.strftime('%H:%M:%S', time.gmtime())}  collecting  production {counts.get('production', 0)}, "
                f"candidate {counts.get('candidate', 0)}; waiting for {found['waiting_for']}"
            )


def _step(step: dict[str, Any]) -> str:
    return f"canary {step['percent']:g}%" if step["kind"] == "canary" else step["kind"]


def _v(version: Any) -> str:
    return "-" if version is None else f"v{version}"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _interval(value: Any) -> str:
    return "-" if not value else f"[{value[0]:+.4g}, {value[1]:+.4g}]"


@click.group()
def traffic() -> None:
    """Send traffic to an agent's gateway."""


@traffic.command("replay")
@click.argument("name")
@click.option(
    "--dataset",
    "dataset",
    required=True,
    type=click.Path(dir_okay=False),
    help="Requests: JSON Lines, CSV or Parquet, one request a row.",
)
@click.option("--rps", type=float, required=True, help="Requests per second.")
@click.option("--duration", type=float, help="Seconds to send for (the dataset repeats); default: one pass through it.")
@click.option("--url", envvar="AGENTGOV_GATEWAY_URL", help="The gateway's URL ($AGENTGOV_GATEWAY_URL).")
@click.option(
    "--key-field",
    default="agentgov_key",
    show_default=True,
    help="The request field that keys sticky routing (else the row number).",
)
@_JSON
@click.pass_obj
def replay(
    state: State,
    name: str,
    dataset: str,
    rps: float,
    duration: float | None,
    url: str | None,
    key_field: str,
    as_json: bool,
) -> None:
    """Send the requests in --dataset to NAME's gateway at --rps, with a progress display; print what came back."""
    from agentgov.core.errors import InvalidValue
    from agentgov.pipelines.rollout.replay import load_requests
    from agentgov.pipelines.rollout.replay import replay as send

    if not url:
        raise InvalidValue("give the gateway's URL: --url http://127.0.0.1:PORT (or $AGENTGOV_GATEWAY_URL)")
    if not rps > 0:
        raise InvalidValue(f"--rps must be above 0, got {rps:g}")
    requests = load_requests(dataset, key_field)
    total = len(requests) if duration is None else max(1, int(rps * duration))
    progress = None if as_json else _progress(total, name)
    summary = send(url, requests, rps=rps, total=total, on_answer=None if progress is None else progress[1])
    if progress is not None:
        progress[0].stop()
    if as_json:
        print_json(summary)
        return
    say(
        f"{name}: {summary['sent']} requests in {summary['seconds']:.1f} s ({summary['rps']:.1f}/s): {summary['ok']} answered, "
        f"{summary['errors']} errors; latency p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms"
    )
    if summary["errors"]:
        raise SystemExit(1)


def _progress(total: int, name: str) -> tuple[Any, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(f"replaying to {name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
        TimeElapsedColumn(),
    )
    task = bar.add_task("replay", total=total, errors=0)
    bar.start()
    errors = [0]

    def answered(ok: bool) -> None:
        errors[0] += not ok
        bar.update(task, advance=1, errors=errors[0])

    return bar, answered


COMMANDS = (rollout, traffic)
