"""``agentgov console``: the read-only governance console on 127.0.0.1."""

from __future__ import annotations

import click

from agentgov.cli.main import State
from agentgov.cli.output import say


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8400, show_default=True, help="Port on 127.0.0.1.")
@click.pass_obj
def console(state: State, port: int) -> None:
    """Serve the governance console on 127.0.0.1 in the foreground (Ctrl-C stops it).

    Server-rendered, read-only pages: the agents and who holds each stage, an
    agent's versions, lineage and stage history, each decision's verdicts and
    approvals, the queue of decisions waiting for review, and rollouts.
    Approving, resuming and aborting stay with the CLI.
    """
    import socket

    import uvicorn

    from agentgov.core.errors import InvalidValue
    from agentgov.pipelines.console.app import create_app
    from agentgov.pipelines.console.queries import Sources

    with socket.socket() as probe:  # a taken port: one line, not uvicorn's log and exit 1
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise InvalidValue(
                f"port {port} on 127.0.0.1 is taken ({exc.strerror}); pick another with --port"
            ) from None
    app = create_app(Sources(state.config, state.plugins, state.home.audit_log))
    say(f"Console on http://127.0.0.1:{port}/ (read-only). Ctrl-C stops.")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


COMMANDS = [console]
