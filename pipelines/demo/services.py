"""What the demo runs besides itself, and the environment it runs in; everything stopped on the way out.

* The environment points at the demo's folder only: its configuration and home,
  no team MLflow or Prefect server a user's shell may name, commands in process.
* One Prefect API for every flow of the run: the embedded server of
  :mod:`agentgov.pipelines.runtime`, started once (it boots while the data is
  generated) instead of once per flow, and stopped at the end after it recorded
  every task run. Its database is the home's, so ``agentgov server start``
  shows the demo's flow runs in the Prefect UI afterwards.
* SIGTERM and SIGHUP end the run as Ctrl-C does, so every context unwinds and
  every process it started (Prefect server, the gateway's shadow host) stops.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentgov.core.config import Config

# Settings a user's shell may carry that would send the demo's records elsewhere.
FOREIGN = (
    "AGENTGOV_CONFIG", "AGENTGOV_HOME", "AGENTGOV_TRACKING_URI", "AGENTGOV_REGISTRY_URI", "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI", "PREFECT_API_URL", "AGENTGOV_DRIFT_EVALUATOR", "AGENTGOV_USER", "HELPDESK_DB",
)


@contextmanager
def demo_environment(root: Path, helpdesk: Path) -> Iterator[None]:
    """``os.environ`` and the working directory for the run (flows read their configuration from both); restored after."""
    saved = dict(os.environ)
    cwd = Path.cwd()
    try:
        for name in FOREIGN:
            os.environ.pop(name, None)
        os.environ.update(
            {
                "AGENTGOV_CONFIG": str(root / "agentgov.toml"),
                "AGENTGOV_NO_SERVER": "1",  # the demo's own Prefect server, and no control plane left behind
                "HELPDESK_DB": str(helpdesk),
            }
        )
        os.chdir(root)
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def prefect_for_the_run(config: Config, meanwhile: Callable[[], object]) -> Iterator[str]:
    """One embedded Prefect API for every flow of the run (``meanwhile`` runs while it boots); yields its URL.

    Flows find it through ``PREFECT_API_URL``; heartbeats are off as on any
    embedded run. On the way out the server first records the last flow's task
    runs, then stops.
    """
    from prefect.settings import temporary_settings

    from agentgov.pipelines.runtime import embedded_server

    with ExitStack() as stack:
        url = stack.enter_context(embedded_server(config, meanwhile))
        stack.enter_context(temporary_settings(updates={"flows.heartbeat_frequency": None}))
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
            _catch_up(config, url)
        finally:
            _flush(config, url)  # what an interrupted flow still queued goes now, not at exit to a stopped server
            os.environ.pop("PREFECT_API_URL", None)


def _catch_up(config: Config, url: str) -> None:
    """Wait until the server recorded every task run of the newest flow run (stopping it earlier loses them)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    from agentgov.pipelines.runtime import using_api, wait_for_task_runs

    with using_api(config, url, heartbeats=False):
        with get_client(sync_client=True) as client:
            newest = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
        if newest:
            wait_for_task_runs(newest[0].id)


def _flush(config: Config, url: str) -> None:
    from agentgov.pipelines.runtime import flush_client, using_api

    try:
        with using_api(config, url, heartbeats=False):
            flush_client(timeout=5)
    except Exception as exc:  # never hide why the run ended
        logging.getLogger("agentgov.pipelines").debug("could not flush Prefect's client: %s", exc)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: end the run as Ctrl-C would."""


@contextmanager
def stops_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Stopped` in the main thread for the block."""

    def stop(number: int, frame: object) -> None:
        raise Stopped(signal.Signals(number).name)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
