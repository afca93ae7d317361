"""The console's routes: read-only HTML pages (GET only), rendered with Jinja2 with autoescaping on.

Nothing here changes state, so no page needs the control plane's token; approving, resuming or aborting
stays with the CLI (``agentgov approve``, ``agentgov rollout resume|abort``), which records who did it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from agentgov.pipelines.console import queries
from agentgov.pipelines.console.queries import Sources

REPORT_HEADERS = {
    "Content-Security-Policy": (
        "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agentgov.pipelines.console", "templates"),
        autoescape=True,  # every value is text, never markup: descriptions, reasons and evidence come from users and plugins
        undefined=jinja2.StrictUndefined,
    )
    env.filters["short"] = lambda text: str(text or "")[:19].replace("T", " ")
    return env


def create_app(sources: Sources) -> Starlette:
    env = _environment()

    def page(template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(**values), status_code=status_code)

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            from agentgov.core.errors import AgentgovError
            from agentgov.registry.errors import NotFound

            try:
                return await run_in_threadpool(handler, request)  # MLflow and the audit log block
            except NotFound as exc:
                return page("error.html", 404, title="Not found", message=str(exc))
            except AgentgovError as exc:  # one line, as the CLI says it
                return page(
                    "error.html", 400 if exc.exit_code == 2 else 503, title="Cannot show this", message=str(exc)
                )

        return endpoint

    def agents(request: Request) -> HTMLResponse:
        return page("agents.html", title="Agents", agents=queries.agents(sources), queue=queries.review_queue(sources))

    def agent(request: Request) -> HTMLResponse:
        from agentgov.registry.history import parse_moment

        name = request.path_params["name"]
        at_text = request.query_params.get("at", "").strip()
        at = parse_moment(at_text) if at_text else None
        number = request.query_params.get("page", "1")
        found = queries.agent(sources, name, at, page=int(number) if number.isdigit() else 1)
        return page("agent.html", title=name, agent=found)

    def decision(request: Request) -> HTMLResponse:
        found = queries.decision(sources, request.path_params["id"])
        return page("decision.html", title=f"Decision {found['decision'].id[:12]}", **found)

    def explain(request: Request) -> HTMLResponse:
        from agentgov.core.errors import InvalidValue

        name, version = request.path_params["name"], request.path_params["version"]
        target = request.query_params.get("to", "")
        if not target:
            raise InvalidValue("name the stage to explain a move to: ?to=shadow, canary or production")
        found = queries.explain(sources, name, version, target)
        return page("decision.html", title=f"Explain {name}/{version} → {found['decision'].target.value}", **found)

    def audit(request: Request) -> HTMLResponse:
        agent, action = request.query_params.get("agent", "").strip(), request.query_params.get("action", "").strip()
        return page("audit.html", title="Audit log", **queries.audit(sources, agent, action))

    def review(request: Request) -> HTMLResponse:
        return page("review.html", title="Review queue", queue=queries.review_queue(sources))

    def rollout(request: Request) -> HTMLResponse:
        name = request.path_params["name"]
        return page("rollout.html", title=f"Rollout of {name}", r=queries.rollout(sources, name))

    def drift(request: Request) -> HTMLResponse:
        name = request.path_params["name"]
        return page("drift.html", title=f"Drift of {name}", d=queries.drift(sources, name))

    def drift_report(request: Request) -> Response:
        found = queries.report_file(sources, request.path_params["name"], request.path_params["stamp"])
        if found is None:
            return page("error.html", 404, title="Not found", message="no stored report for this check")
        # Evidently's page is its own markup and scripts: it runs sandboxed (an opaque origin, no network) so it
        # can neither read the console nor call out, and only the console may frame it.
        return FileResponse(found, media_type="text/html; charset=utf-8", headers=REPORT_HEADERS)

    routes = [
        Route("/", guarded(agents)),
        Route("/agents/{name}", guarded(agent)),
        Route("/agents/{name}/rollout", guarded(rollout)),
        Route("/agents/{name}/versions/{version:int}/explain", guarded(explain)),
        Route("/agents/{name}/drift", guarded(drift)),
        Route("/agents/{name}/drift/{stamp}/report", guarded(drift_report)),
        Route("/decisions/{id}", guarded(decision)),
        Route("/review", guarded(review)),
        Route("/audit", guarded(audit)),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=_warm, args=(sources,), name="console-warm-up", daemon=True).start()
        yield

    return Starlette(routes=routes, lifespan=lifespan)


def _warm(sources: Sources) -> None:
    """Read and verify the audit log and ask the registry once at start, so the first page does not wait for
    100,000 records and MLflow's imports; then move what the process holds by now (imports, client, records) out
    of the cyclic garbage collector's sight: each full collection walking it paused a page for 0.3 to 0.9 s."""
    try:
        sources.log.select(newest=1)
        sources.log.verify()
        queries.agents(sources)
    except Exception:  # best effort, nothing is shown or decided here: the page that reads the same says what is wrong
        pass
    gc.freeze()
