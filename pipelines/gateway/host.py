"""A version hosted in a process of its own, for the gateway's shadow copies: isolation by process.

A shadow version run in the gateway's own threads shares its CPU, its GIL and
its memory: a shadow that floods, spins or leaks slows the callers' answers.
The gateway instead starts one host process per shadow version (``python -m
agentgov.pipelines.gateway.host NAME VERSION PORT``, on 127.0.0.1, dying with
the gateway) and sends it copies over HTTP with a time limit; a hang or a crash
costs the gateway a timed-out request, nothing else. The host runs at a lower
CPU priority (``--nice``, 10 by default from the gateway): where the machine has
no CPU to spare, the callers' answers keep it and the shadow's copies wait, time
out or are dropped as busy (counted), instead of the shadow's CPU showing in
the callers' latency.

The host answers ``POST /act_traced`` (``{"request", "mode", "trace_id",
"paired"}`` -> ``{"response", "trace"}``; 500 with ``{"error", "trace"}`` when
the agent raised; 503 when all of its ``--slots`` are busy) and ``GET /readyz``.
That is the contract :class:`~agentgov.pipelines.gateway.upstreams.HttpUpstream`
speaks, which a served bento can implement too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentgov.pipelines.gateway.upstreams import HttpUpstream


def create_host_app(agent: Any, slots: int = 4) -> Any:
    """The host's Starlette app around a :class:`~agentgov.registry.loading.LoadedAgent`."""
    from concurrent.futures import ThreadPoolExecutor

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from agentgov.registry.runtime import Trace

    pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="agentgov-host")
    free = threading.BoundedSemaphore(slots)

    def run(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            paired = Trace.from_dict(body["paired"]) if body.get("paired") else None
            response, trace = agent.act_traced(
                body["request"], mode=body.get("mode", "shadow"), trace_id=body.get("trace_id"), paired=paired
            )
            return 200, {"response": response, "trace": trace.to_dict()}
        except Exception as exc:
            trace = getattr(exc, "agentgov_trace", None)
            return 500, {"error": f"{type(exc).__name__}: {exc}", "trace": trace.to_dict() if trace else None}
        finally:
            free.release()

    async def act_traced(request: Request) -> JSONResponse:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
            return JSONResponse({"error": "expected {request: {...}, mode, trace_id, paired}"}, status_code=400)
        if not free.acquire(blocking=False):
            return JSONResponse({"error": f"all {slots} slots are busy"}, status_code=503)
        status, answer = await asyncio.get_running_loop().run_in_executor(pool, run, body)
        return JSONResponse(answer, status_code=status)

    async def readyz(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True, "agent": agent.version.name, "version": agent.version.version})

    return Starlette(routes=[Route("/act_traced", act_traced, methods=["POST"]), Route("/readyz", readyz)])


class HostedUpstream(HttpUpstream):
    """A version in a host process this gateway started; closing it stops the process."""

    def __init__(self, process: subprocess.Popen, url: str, version: int, **options: Any) -> None:
        super().__init__(url, version, **options)
        self.process = process
        self.describe = f"version {version} hosted in pid {process.pid} at {url}"

    async def close(self) -> None:
        from agentgov.pipelines.runtime import stop_process

        await super().close()
        await asyncio.to_thread(stop_process, self.process, 10)


def start_host(
    home: Path,
    name: str,
    version: int,
    *,
    slots: int,
    timeout_s: float,
    nice: int = 0,
    cpus: tuple[int, ...] | None = None,
    ready_s: float = 120,
) -> HostedUpstream:
    """Start a host process for ``name`` ``version`` and wait until it answers; its log is in the home.

    ``nice`` is added to the host's niceness (a lower CPU priority than the gateway's for a positive one);
    ``cpus`` confines it to those CPUs (Linux), so a shadow cannot take the CPUs that answer the callers.
    """
    from agentgov.deploy.process import wait_until_ready
    from agentgov.pipelines.runtime import free_port

    port = free_port()
    log = Path(home) / "logs" / f"gateway-host-{name}-{version}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "agentgov.pipelines.gateway.host",
        name,
        str(version),
        str(port),
        "--slots",
        str(slots),
        "--nice",
        str(nice),
    ]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            start_new_session=True,
            preexec_fn=_before_exec(cpus),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            f"{url}/readyz",
            running=lambda: process.poll() is None,
            timeout=ready_s,
            log=log,
            what=f"the host of {name}/{version}",
        )
    except BaseException:
        process.kill()
        process.wait()
        raise
    return HostedUpstream(process, url, version, timeout_s=timeout_s)


def _before_exec(cpus: tuple[int, ...] | None) -> Callable[[], object] | None:
    """In the child before exec: die with the gateway, and keep to ``cpus`` when given."""
    from agentgov.pipelines.runtime import die_with_parent

    ask_for_sigterm = die_with_parent()
    if not cpus:
        return ask_for_sigterm

    def prepare() -> None:
        if ask_for_sigterm is not None:
            ask_for_sigterm()
        os.sched_setaffinity(0, cpus)

    return prepare


def _exit_with_parent(parent: int) -> None:
    """Where the kernel cannot signal a parent's death: leave when the parent is gone."""
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from agentgov.core.config import load_config
    from agentgov.core.types import AgentRef
    from agentgov.registry.loading import load_agent

    parser = argparse.ArgumentParser(prog="agentgov-gateway-host", description="Host one agent version for a gateway.")
    parser.add_argument("name")
    parser.add_argument("version", type=int)
    parser.add_argument("port", type=int)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--nice", type=int, default=0, help="added to this process's niceness")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)  # Linux: per thread, so before any thread starts; the threads started later inherit it
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    agent = load_agent(AgentRef(args.name, version=args.version), load_config())
    app = create_host_app(agent, args.slots)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
