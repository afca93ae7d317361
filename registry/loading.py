"""Loading a registered agent to run it: ``load_agent("support-router@production")``."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
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
    with mlflow_errors(f"loading {ref}"), quiet(), _LOAD_LOCK:
        import mlflow

        local = mlflow.artifacts.download_artifacts(f"models:/{version.name}/{version.version}")
        _forget_agent_modules(Path(local))
        model = mlflow.pyfunc.load_model(local)
    return LoadedAgent(version, model)


_LOAD_LOCK = threading.Lock()


def _forget_agent_modules(model_dir: Path) -> None:
    """Drop from ``sys.modules`` the modules named like the model's own code files.

    MLflow puts each model's code folder first on ``sys.path`` but keeps what was
    imported before (by an earlier version, another agent with a ``router``
    module, or registration itself), so the model would run that code instead.
    Objects already built from the old modules keep working.
    """
    from mlflow.models import Model

    code = Model.load(str(model_dir)).flavors.get("python_function", {}).get("code")
    folder = model_dir / code if code else None
    if folder is None or not folder.is_dir():
        return
    names = {p.stem if p.suffix == ".py" else p.name for p in folder.iterdir() if p.suffix == ".py" or p.is_dir()}
    names -= {*sys.stdlib_module_names, "agentgov", "mlflow", "__pycache__"}
    for name in [n for n in sys.modules if n.split(".")[0] in names]:
        del sys.modules[name]
