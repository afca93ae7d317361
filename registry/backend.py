"""Connecting to MLflow: an sqlite file in the home, or a shared server.

MLflow is imported here, inside functions, never at the import of agentgov's
command line. Its own logging and warnings are kept away from the user.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agentgov.core.config import Config, mask_uri
from agentgov.registry.errors import RegistryUnavailable

if TYPE_CHECKING:
    from mlflow import MlflowClient

EXPERIMENT = "agentgov"
LOCK_PREFIX = "agentgov-lock."
_NOISY_LOGGERS = ("mlflow", "alembic", "urllib3", "git", "py4j")


@contextmanager
def quiet() -> Iterator[None]:
    """Keep MLflow's INFO lines and warnings off the user's terminal."""
    levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Some MLflow functions reset the filters to "once" for themselves; dropping the output still works.
        warnings.showwarning = _drop_warning
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _drop_warning(*args: object, **kwargs: object) -> None:
    return None


def connect(config: Config) -> MlflowClient:
    """An MLflow client for the configured stores, checked to be reachable."""
    # Fail in seconds, not after MLflow's default minutes of retries, when a server is down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    # MLflow configures its loggers at import and shows tqdm bars on downloads: keep both quiet.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # stdout is ours (--json)
    for uri in {config.tracking_uri, config.registry_uri}:
        if uri.startswith("sqlite:///"):
            config.home.mkdir(parents=True, exist_ok=True)
        elif uri.startswith(("http://", "https://")):
            _check_reachable(uri)
    with quiet():
        import mlflow
        from mlflow import MlflowClient

        # set_*_uri also export MLFLOW_TRACKING_URI/MLFLOW_REGISTRY_URI; put them back, or the next
        # load_config() in this process would read our own choice as the user's override.
        saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(config.tracking_uri)
        mlflow.set_registry_uri(config.registry_uri)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        try:
            return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri)
        except Exception as exc:
            raise RegistryUnavailable(f"cannot open the MLflow store {mask_uri(config.tracking_uri)}: {exc}") from None


def experiment_id(client: MlflowClient, config: Config) -> str:
    """The experiment that holds registration runs; artifacts go to the home when embedded."""
    with quiet():
        existing = client.get_experiment_by_name(EXPERIMENT)
        if existing is not None:
            return existing.experiment_id
        location = None
        if config.tracking_uri.startswith("sqlite:"):
            location = (config.home / "artifacts").as_uri()
        try:
            return client.create_experiment(EXPERIMENT, artifact_location=location)
        except Exception:
            found = client.get_experiment_by_name(EXPERIMENT)  # another process created it first
            if found is None:
                raise
            return found.experiment_id


def _check_reachable(uri: str) -> None:
    import urllib.error
    import urllib.request

    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=5) as response:
            if response.status == 200:
                return
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        host = urlsplit(uri).netloc
        raise RegistryUnavailable(
            f"the MLflow server at {mask_uri(uri)} is not reachable ({reason})",
            hint=f"start it, or point mlflow.tracking_uri in agentgov.toml elsewhere (host {host})",
        ) from None
    raise RegistryUnavailable(f"the MLflow server at {mask_uri(uri)} did not answer its health check")
