"""Loading a registered agent to run it: ``load_agent("support-router@production")``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentgov.core.config import Config, load_config
from agentgov.core.types import AgentRef
from agentgov.registry.backend import connect, quiet
from agentgov.registry.model import AgentVersion
from agentgov.registry.store import get, mlflow_errors


@dataclass(frozen=True)
class LoadedAgent:
    """A registered agent version, ready to ``act``."""

    version: AgentVersion
    model: Any  # mlflow.pyfunc.PyFuncModel

    def act(self, request: dict[str, Any]) -> dict[str, Any]:
        inner = self.model.unwrap_python_model()
        if hasattr(inner, "act"):
            return inner.act(request)
        import pandas as pd

        return self.model.predict(pd.DataFrame([request])).to_dict(orient="records")[0]


def load_agent(ref: str | AgentRef, config: Config | None = None) -> LoadedAgent:
    """Load ``name/3`` or ``name@production`` from the registry."""
    config = config or load_config()
    ref = AgentRef.parse(ref) if isinstance(ref, str) else ref
    client = connect(config)
    version = get(client, ref)
    with mlflow_errors(f"loading {ref}"), quiet():
        import mlflow

        model = mlflow.pyfunc.load_model(f"models:/{version.name}/{version.version}")
    return LoadedAgent(version, model)
