"""``agentgov gateway NAME``: the agent's gateway on 127.0.0.1 (sticky canary, shadow mirroring, inference log)."""

from __future__ import annotations

import click

from agentgov.cli.main import State
from agentgov.cli.output import say


def _upstreams(values: tuple[str, ...]) -> dict[int, str]:
    found: dict[int, str] = {}
    for value in values:
        version, _, url = value.partition("=")
        if not version.isdigit() or not url.startswith(("http://", "https://")):
            raise click.BadParameter(
                f"{value!r}: expected VERSION=URL, such as 3=http://127.0.0.1:3000", param_hint="--upstream"
            )
        found[int(version)] = url
    return found


def _cpus(text: str) -> tuple[int, ...]:
    """``2-3,5`` as (2, 3, 5); each must be a CPU of this machine."""
    import os

    chosen: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or (high and not high.isdigit()) or (high and int(high) < int(low)):
            raise click.BadParameter(f"{text!r}: expected CPU numbers and ranges, such as 2-3 or 1,3", param_hint="--shadow-cpus")
        chosen.update(range(int(low), int(high or low) + 1))
    if not hasattr(os, "sched_setaffinity"):
        raise click.BadParameter("CPU affinity is not available on this system", param_hint="--shadow-cpus")
    count = os.cpu_count() or 1
    if max(chosen) >= count:
        raise click.BadParameter(f"CPU {max(chosen)} does not exist here (CPUs 0-{count - 1})", param_hint="--shadow-cpus")
    return tuple(sorted(chosen))


@click.command()
@click.argument("name")
@click.option("--port", type=click.IntRange(1, 65535), default=8300, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--upstream",
    "upstreams",
    multiple=True,
    metavar="VERSION=URL",
    help="A served version (agentgov serve/deploy) to call over HTTP; repeat per version. "
    "Without any (and without --served), every version is loaded into this process from the registry.",
)
@click.option(
    "--served",
    is_flag=True,
    help="Call each version at the process `agentgov deploy` runs for it on bentoml-local "
    "(the main deployment or one --alongside), found by version.",
)
@click.option(
    "--refresh", type=click.FloatRange(0.05), default=1.0, show_default=True, help="Seconds between routing reads."
)
@click.option(
    "--shadow-timeout",
    type=click.FloatRange(0.01),
    default=2.0,
    show_default=True,
    help="Seconds a shadow copy may take.",
)
@click.option(
    "--shadow-workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Shadow copies run at once."
)
@click.option(
    "--shadow-queue", type=click.IntRange(1), default=1000, show_default=True, help="Shadow copies waiting, at most."
)
@click.option(
    "--shadow-in-process",
    is_flag=True,
    help="Run an in-process version's shadow in this process's threads, not in a host process of its own.",
)
@click.option(
    "--shadow-cpus",
    metavar="LIST",
    default=None,
    help="CPUs the shadow's host process may use, such as 2-3 or 1,3 (Linux): keeps the shadow off the CPUs that "
    "answer the callers. Default: any, at a lower priority.",
)
@click.option(
    "--log-batch", type=click.IntRange(1), default=2000, show_default=True, help="Inference-log rows per file."
)
@click.option(
    "--log-wait",
    type=click.FloatRange(0.01),
    default=2.0,
    show_default=True,
    help="Seconds a row may wait to be written.",
)
@click.pass_obj
def gateway(
    state: State,
    name: str,
    port: int,
    upstreams: tuple[str, ...],
    served: bool,
    refresh: float,
    shadow_timeout: float,
    shadow_workers: int,
    shadow_queue: int,
    shadow_in_process: bool,
    shadow_cpus: str | None,
    log_batch: int,
    log_wait: float,
) -> None:
    """Serve NAME's gateway on 127.0.0.1 in the foreground (Ctrl-C or SIGTERM stops it, writing every buffered row).

    POST /act answers from production, or from the canary for the share of
    keys its weight gives (key: the X-Agentgov-Key header or the body's
    agentgov_key, else the request id); a share of requests is copied to the
    shadow version in shadow mode, where no side effect executes. Routing is
    read from the registry every --refresh seconds. /act needs no token: it is
    the agent's traffic endpoint, bound to loopback; nothing here changes
    state (routing moves in the registry, through the gate). Also /healthz,
    /readyz, /metrics (Prometheus), /routing.
    """
    import sys

    import uvicorn

    from agentgov.deploy.traffic import read_routing
    from agentgov.pipelines.gateway import GatewaySettings, build_gateway, create_app
    from agentgov.pipelines.gateway.app import SWITCH_INTERVAL_S

    found = _upstreams(upstreams)
    cpus = _cpus(shadow_cpus) if shadow_cpus else None
    if found and served:
        raise click.UsageError("--served and --upstream name the versions' servers two ways: choose one")
    read_routing(state.config, name)  # an unknown agent or an unreachable registry: one line, before binding
    settings = GatewaySettings(
        refresh_s=refresh,
        shadow_timeout_s=shadow_timeout,
        shadow_workers=shadow_workers,
        shadow_queue=shadow_queue,
        shadow_process=not shadow_in_process,
        shadow_cpus=cpus,
        log_batch_rows=log_batch,
        log_max_wait_s=log_wait,
    )
    app = create_app(
        build_gateway(
            state.config, name, settings=settings, urls=found or None, served_on="bentoml-local" if served else None
        )
    )
    url = f"http://127.0.0.1:{port}"
    say(f"Gateway of {name} on {url}: POST {url}/act, GET {url}/readyz, {url}/metrics, {url}/routing. Ctrl-C stops.")
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # the event loop gets the GIL back quickly from busy threads
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False)


COMMANDS = [gateway]
