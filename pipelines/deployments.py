"""Deploying agentgov's flows to a Prefect work pool, for workers to run.

The flows are deployed by module path (``agentgov.pipelines.register_agent:register_agent``):
a worker runs them from the agentgov installed in its environment, so no image
and no code storage are needed, and nothing leaves the machine. Workers read
their agentgov configuration (home, MLflow URI) from their own environment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from prefect import Flow


FLOWS = (
    "agentgov.pipelines.register_agent:register_agent",
    "agentgov.pipelines.validate_data:validate_data",
    "agentgov.pipelines.promote:promote_agent",
    "agentgov.pipelines.evaluate:evaluate_agent",
    "agentgov.pipelines.drift_monitor:drift_monitor",
)


def agentgov_flows() -> tuple[Flow, ...]:
    from agentgov.pipelines.runtime import import_flow

    return tuple(import_flow(spec) for spec in FLOWS)


def ensure_process_pool(name: str) -> None:
    """Create the process work pool ``name`` in the current Prefect API unless it exists."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(
                WorkPoolCreate(name=name, type="process", base_job_template=ProcessWorker.get_default_base_job_template())
            )
        except ObjectAlreadyExists:
            pass


def deploy(work_pool: str, flows: Iterable[Flow] | None = None, *, name: str = "agentgov") -> list[UUID]:
    """Deploy the flows (all of agentgov's by default) to ``work_pool`` as ``<flow name>/<name>``."""
    from prefect import deploy as prefect_deploy
    from prefect.types.entrypoint import EntrypointType

    ensure_process_pool(work_pool)
    deployments = [
        flow.to_deployment(name=name, entrypoint_type=EntrypointType.MODULE_PATH) for flow in (flows or agentgov_flows())
    ]
    return list(
        prefect_deploy(
            *deployments, work_pool_name=work_pool, build=False, push=False, print_next_steps_message=False, ignore_warnings=True
        )
    )
