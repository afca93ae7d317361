"""``agentgov server start|stop|status``: the home's control plane and the Prefect server (UI and API) it hosts."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, say, status

if TYPE_CHECKING:
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def server() -> None:
    """Run the home's control plane: a warm process that runs agentgov's commands and hosts the Prefect UI and API.

    Commands start it on their own when it is not running (unless --no-server
    or AGENTGOV_NO_SERVER=1); it stops after [server] idle_timeout seconds
    without a command.
    """


@server.command("start")
@click.option("--port", default=4200, show_default=True, type=click.IntRange(1, 65535), help="Port of the Prefect UI and API.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the Prefect server binds (loopback by default).")
@_JSON
@click.pass_obj
def start(state: State, port: int, host: str, as_json: bool) -> None:
    """Start the control plane and its Prefect server in the background and wait until both answer."""
    from agentgov.pipelines import control_plane as plane
    from agentgov.pipelines import server as local

    config = state.config
    before = plane.running(config.home)
    fp = plane.fingerprint()
    if before is not None and before.fingerprint != fp:
        plane.retire(config.home)
        before = None
    if before is None and local.status(config).running is False:
        local.check_port(host, port)
    with status(f"Starting agentgov's control plane and the Prefect server on {host}:{port}", quiet=as_json):
        started = before or _start(state, fp, port=port, host=host)
        prefect = local.status(config)
        if prefect.state is not None and not prefect.healthy:
            local.wait_healthy(config, prefect.state)
            prefect = local.status(config)
    if prefect.state is None:
        from agentgov.pipelines.runtime import PipelineError

        raise PipelineError("the control plane started but its Prefect server is not running", hint=f"see {started.log}")
    if as_json:
        print_json({**_status_dict(state), "already_running": before is not None})
        return
    url, api_url = prefect.state.url, prefect.state.api_url
    if before is not None:
        say(f"Already running (pid {started.pid}): {url}")
    else:
        say(f"Control plane running (pid {started.pid}); Prefect server (pid {prefect.state.pid}): UI at {url}")
    if started.api_url:
        say(f"agentgov API: {started.api_url} (127.0.0.1 only; token in {config.home / 'server' / 'token'})")
    if config.prefect_api_url and config.prefect_api_url.rstrip("/") != api_url:
        say(f"Note: prefect.api_url is set ({config.sources['prefect_api_url']}); flows use that API, not this server.")
    else:
        say("agentgov's commands and flows in this home use it while it runs.")
    say("From other shells or machines, point them at it with")
    say(f"  export PREFECT_API_URL={api_url}   (or [prefect] api_url in agentgov.toml)")
    say(f"Log: {started.log}. It stops after {config.server_idle_timeout:g} s idle, or with `agentgov server stop`.")


def _start(state: State, fp: str, *, port: int, host: str):
    import os
    import sys

    from agentgov.cli.main import _SERVE, NO_SERVER, SUPERVISE
    from agentgov.pipelines import control_plane as plane

    config = state.config
    env = {**os.environ, "AGENTGOV_HOME": str(config.home), SUPERVISE: "0", NO_SERVER: "1"}
    if config.path is not None:
        env["AGENTGOV_CONFIG"] = str(config.path)
    argv = [sys.executable, "-c", _SERVE, "--port", str(port), "--host", host, "--idle-timeout", str(config.server_idle_timeout)]
    try:
        pid = plane.spawn(config.home, argv, env)
        return plane.wait_until_running(config.home, fp, pid)
    except plane.ControlPlaneError as exc:
        from agentgov.pipelines.runtime import PipelineError

        raise PipelineError(f"the control plane did not start: {exc}") from None


@server.command("stop")
@_JSON
@click.pass_obj
def stop(state: State, as_json: bool) -> None:
    """Stop the control plane and the Prefect server of this home."""
    from agentgov.pipelines import control_plane as plane
    from agentgov.pipelines import server as local

    hosted = local.status(state.config).state  # the Prefect server the control plane stops with itself
    stopped = plane.stop(state.config.home)
    left = local.stop(state.config)  # one a killed control plane left behind, or one an older agentgov started
    prefect = left or (hosted if stopped is not None else None)
    if as_json:
        print_json({
            "stopped": stopped is not None or prefect is not None,
            **({"pid": stopped.pid} if stopped else {}),
            **({"prefect_pid": prefect.pid, "url": prefect.url} if prefect else {}),
        })
        return
    if stopped is not None:
        said = f" and its Prefect server (pid {prefect.pid}, {prefect.url})" if prefect else ""
        say(f"Stopped the control plane (pid {stopped.pid}){said}.")
        from agentgov.pipelines import runner

        waiting = runner.jobs(state.config.home)
        if waiting:
            say(f"{len(waiting)} schedule(s) or job(s) stay active and resume when it starts again (`agentgov monitor list`).")
    elif prefect is not None:
        say(f"Stopped the Prefect server (pid {prefect.pid}, {prefect.url}).")
    else:
        say("No control plane or Prefect server was running.")


def _status_dict(state: State) -> dict:
    from agentgov.pipelines import control_plane as plane
    from agentgov.pipelines import server as local

    found = plane.running(state.config.home)
    prefect = local.status(state.config)
    live = plane.ask(state.config.home, "status") if found is not None else None
    return {
        **prefect.to_dict(),  # running, healthy, url, api_url, pid of the Prefect server (as before)
        "control_plane": {
            "running": found is not None,
            **(found.to_dict() if found else {}),
            **({"uptime_s": live["uptime_s"], "children": live["children"], "active": live["active"], "idle_timeout_s": live["idle_timeout_s"]} if live else {}),
        },
    }


@server.command("status")
@_JSON
@click.pass_obj
def status_(state: State, as_json: bool) -> None:
    """Say whether the control plane and its Prefect server run, where, and what work is active."""
    shown = _status_dict(state)
    if as_json:
        print_json(shown)
        return
    control = shown["control_plane"]
    if not control["running"] and not shown["running"]:
        say("stopped (start it with `agentgov server start`; commands start it on their own)")
        return
    if control["running"]:
        uptime = control.get("uptime_s", time.time() - control["started_at"])
        say(f"control plane: running (pid {control['pid']}, up {uptime:.0f} s, fingerprint {control['fingerprint']})")
        work = [f"{' '.join(c['argv'][:2])} (pid {c['pid']}, {c['running_s']:.0f} s)" for c in control.get("children", [])]
        work += [f"{a['name']} (pid {a['pid']})" for a in control.get("active", [])]
        say(f"  active work: {', '.join(work) if work else 'none'}")
        if control.get("api_url"):
            say(f"  agentgov API: {control['api_url']} (token in {state.config.home / 'server' / 'token'})")
    else:
        say("control plane: stopped")
    if shown["running"]:
        health = "healthy" if shown["healthy"] else "not answering yet"
        say(f"running (pid {shown['pid']}, {health}): UI at {shown['url']}, API {shown['api_url']}")


def serve_main(args: list[str]) -> None:
    """The control plane's process (started by a command or ``server start``): serve until stopped or idle."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="agentgov-control-plane")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--idle-timeout", type=float, default=None)
    options = parser.parse_args(args)

    from agentgov.cli.main import run_in_child, warm_up
    from agentgov.core.config import load_config
    from agentgov.pipelines import control_plane as plane

    config = load_config()
    idle = options.idle_timeout if options.idle_timeout is not None else config.server_idle_timeout
    def warm() -> None:
        plugins = warm_up(config)
        if plugins is not None:
            _finish_interrupted_moves(config, plugins)

    code = plane.serve(config, run=run_in_child, warm=warm, port=options.port, host=options.host, idle_timeout=idle)
    os._exit(code)


def _finish_interrupted_moves(config: Config, plugins: PluginManager) -> None:
    """Before the first command is served: stage moves that a crash (of an earlier control plane, say) cut short are
    finished, so no command sees an alias and a stage tag that disagree."""
    import logging

    try:
        from agentgov.core.home import Home
        from agentgov.registry.backend import connect, quiet
        from agentgov.registry.stages import finish_every_interrupted

        with quiet():
            audit = Home.configured(config, plugins).audit_log
            for outcome in finish_every_interrupted(connect(config), audit=audit):
                logging.getLogger("agentgov.cli").warning("control plane: %s", outcome)
    except Exception as exc:  # the commands still run; the next promotion or `doctor --repair` finishes the move
        logging.getLogger("agentgov.cli").warning("control plane: could not finish interrupted stage moves: %s", exc)


COMMANDS = (server,)
