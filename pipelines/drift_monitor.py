"""The ``drift-monitor`` flow: a drift check for every agent version in production or shadow.

Each check is a task run (:func:`agentgov.pipelines.drift.check_drift`, with
the configured evaluator): it records the verdict as the version's
``agentgov.drift`` tag and logs the evaluator's report (Evidently's, by
default, which also joins the Evidently workspace) on the version's MLflow run. The flow publishes a markdown table of the verdicts. One agent's
failure (no reference data, say) is a row with status ``error``; the others
are still checked.

Run it on a schedule in the home's control plane (``agentgov monitor schedule
--all --every 1h``, :mod:`agentgov.pipelines.runner`), from a long-running process::

    from agentgov.pipelines.drift_monitor import drift_monitor
    drift_monitor.serve(name="hourly", cron="0 * * * *")   # needs PREFECT_API_URL, e.g. `agentgov server start`

or as a deployment on a work pool, which a worker runs::

    drift_monitor.to_deployment(name="hourly", cron="0 * * * *", entrypoint_type=EntrypointType.MODULE_PATH)
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from agentgov.pipelines.runtime import TRANSIENT, publish_table, retry_on

MONITORED_ALIASES = ("production", "shadow")


@task(name="list-live-versions", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 8], retry_condition_fn=retry_on(TRANSIENT))
def live_versions(agents: list[str] | None) -> list[tuple[str, int, str]]:
    """(agent, version, alias) for every version holding a production or shadow alias."""
    from agentgov.core.config import load_config
    from agentgov.registry.backend import connect
    from agentgov.registry.store import list_agents

    found = []
    for agent in list_agents(connect(load_config())):
        if agents and agent["name"] not in agents:
            continue
        seen: set[int] = set()
        for alias in MONITORED_ALIASES:
            version = agent["aliases"].get(alias)
            if version is not None and version not in seen:
                seen.add(version)
                found.append((agent["name"], int(version), alias))
    return found


@task(name="check-drift", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 8], retry_condition_fn=retry_on(TRANSIENT))
def check(name: str, version: int, reference: str, window: str) -> dict[str, Any]:
    from agentgov.core.config import load_config
    from agentgov.core.errors import AgentgovError
    from agentgov.core.home import Home
    from agentgov.core.plugins import load_plugins
    from agentgov.pipelines.drift import check_drift

    config = load_config()
    plugins = load_plugins(config)
    audit = Home.configured(config, plugins).audit_log
    try:
        done = check_drift(config, plugins, name, version=version, reference=reference, window=window, audit=audit)
    except AgentgovError as exc:
        return {"agent": name, "version": version, "status": "error", "message": str(exc), "report": None, "share_drifted": None,
                "drifted_columns": []}
    result = done.result
    return {"agent": name, "version": version, "status": result.status.value, "message": result.message,
            "report": done.report_uri, "share_drifted": result.share_drifted, "drifted_columns": list(result.drifted_columns)}


@flow(name="drift-monitor", flow_run_name="monitor drift over {window}", log_prints=False)
def drift_monitor(reference: str = "production-window", window: str = "24h", agents: list[str] | None = None) -> list[dict[str, Any]]:
    """Check drift of every production and shadow version (or only those of ``agents``); one row per version."""
    rows = []
    for name, version, alias in live_versions(agents):
        row = check(name, version, reference, window)
        rows.append({**row, "alias": alias})
    publish_table(
        "drift-monitor",
        f"Drift of live agents over the last {window} against {reference}",
        ("Agent", "Version", "Alias", "Status", "Drifted", "Report"),
        [
            (r["agent"], r["version"], r["alias"], r["status"],
             ", ".join(r["drifted_columns"]) or (r["message"] if r["status"] != "ok" else "-"), r["report"] or "-")
            for r in rows
        ] or [("-", "-", "-", "no agent in production or shadow", "-", "-")],
    )
    return rows
