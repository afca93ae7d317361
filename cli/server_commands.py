"""``agentgov server start|stop|status``: a local Prefect server with its UI, for this home."""

from __future__ import annotations

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, say, status

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def server() -> None:
    """Run a local Prefect server (UI and API) that agentgov's flows then use."""


@server.command("start")
@click.option("--port", default=4200, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@_JSON
@click.pass_obj
def start(state: State, port: int, host: str, as_json: bool) -> None:
    """Start the server in the background and wait until it answers."""
    from agentgov.pipelines import server as local

    before = local.status(state.config)
    with status(f"Starting the Prefect server on {host}:{port}", quiet=as_json):
        started = local.start(state.config, port=port, host=host)
    if as_json:
        print_json({**local.status(state.config).to_dict(), "already_running": before.running})
        return
    if before.running:
        say(f"Already running (pid {started.pid}): {started.url}")
    else:
        say(f"Prefect server running (pid {started.pid}): UI at {started.url}")
    if state.config.prefect_api_url and state.config.prefect_api_url.rstrip("/") != started.api_url:
        say(f"Note: prefect.api_url is set ({state.config.sources['prefect_api_url']}); flows use that API, not this server.")
    else:
        say("agentgov's flows in this home use it while it runs.")
    say("From other shells or machines, point them at it with")
    say(f"  export PREFECT_API_URL={started.api_url}   (or [prefect] api_url in agentgov.toml)")
    say(f"Log: {started.log}. Stop it with `agentgov server stop`.")


@server.command("stop")
@_JSON
@click.pass_obj
def stop(state: State, as_json: bool) -> None:
    """Stop the server this home started."""
    from agentgov.pipelines import server as local

    stopped = local.stop(state.config)
    if as_json:
        print_json({"stopped": stopped is not None, **({"pid": stopped.pid, "url": stopped.url} if stopped else {})})
        return
    say(f"Stopped the Prefect server (pid {stopped.pid}, {stopped.url})." if stopped else "No Prefect server was running.")


@server.command("status")
@_JSON
@click.pass_obj
def status_(state: State, as_json: bool) -> None:
    """Say whether the server runs, where, and whether it answers."""
    from agentgov.pipelines import server as local

    found = local.status(state.config)
    if as_json:
        print_json(found.to_dict())
        return
    if not found.running or found.state is None:
        say("stopped (start it with `agentgov server start`)")
        return
    health = "healthy" if found.healthy else "not answering yet"
    say(f"running (pid {found.state.pid}, {health}): UI at {found.state.url}, API {found.state.api_url}")


COMMANDS = (server,)
