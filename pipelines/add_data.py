"""The ``add-data`` flow: track a dataset with DVC and list it in the agent's manifest.

A single task around :func:`agentgov.data.datasets.add_dataset` (retried when
the DVC remote was briefly unreachable), and an artifact saying what was
recorded, so ``agentgov data add`` leaves a run in Prefect like every other
step of an agent's life.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from agentgov.pipelines.runtime import TRANSIENT, publish_table, retry_on

if TYPE_CHECKING:
    from agentgov.data.datasets import Added


@task(
    name="track-dataset",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2, 8],
    retry_condition_fn=retry_on(TRANSIENT),
)
def track_dataset(path: str, agent: str, role: str, suite: str | None, home: str) -> Added:
    from agentgov.data.datasets import add_dataset

    return add_dataset(Path(path), agent_dir=Path(agent), role=role, home=Path(home), suite=suite)


def _run_name() -> str:
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    return f"add data {Path(str(parameters.get('path', '?'))).name}"


@flow(name="add-data", flow_run_name=_run_name)
def add_data(path: str, agent: str = ".", role: str = "eval", suite: str | None = None) -> Added:
    """Track the dataset file ``path`` for the agent in folder ``agent``, as ``role`` (checked against ``suite``)."""
    from agentgov.core.config import load_config

    added = track_dataset(path, agent, role, suite, str(load_config().home))
    publish_table(
        f"data-{added.agent}",
        f"{added.agent}: {'listed' if added.manifest_updated else 're-tracked'} {added.path}",
        ("What", "Value"),
        [
            ("dataset", added.path),
            ("role", added.role),
            ("md5", added.md5),
            ("size (bytes)", added.size if added.size is not None else "?"),
            ("manifest", "dataset added" if added.manifest_updated else "already listed"),
            ("DVC", "initialised now" if added.dvc_initialised else "existing repository"),
            ("pushed to remote", "yes" if added.pushed else "no"),
        ],
    )
    return added
