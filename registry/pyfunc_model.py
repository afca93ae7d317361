"""The MLflow *models-from-code* file that wraps an agent with an ``act()`` method.

MLflow stores this file, not a pickle, and runs it when the model is loaded.
``model_config`` names the agent's module and class; the agent's own files
travel as ``code_paths`` and are importable when the model loads.
Not imported by agentgov itself: it calls ``set_model`` at import.

An agent whose ``act`` takes a second argument gets the governed tool context
(:mod:`agentgov.registry.runtime`); its signature is read once, here, at load.
``agentgov.registry.LoadedAgent`` passes the context of each request; a
caller of ``predict`` (``mlflow models serve``) gets a live one per request,
built from the manifest and tool schemas packaged with the model.
"""

import importlib

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class AgentModel(PythonModel):
    def load_context(self, context):
        from agentgov.registry.runtime import wants_context

        config = context.model_config
        module = importlib.import_module(config["module"])
        self.agent = getattr(module, config["class"])()
        self.artifacts = dict(context.artifacts or {})
        self.wants_context = wants_context(self.agent.act)
        self._runtime = None

    def act(self, request, ctx=None):
        if not self.wants_context:
            return self.agent.act(request)
        if ctx is None:
            ctx = self._packaged_runtime().context("live")
        return self.agent.act(request, ctx)

    def _packaged_runtime(self):
        if self._runtime is None:
            from agentgov.registry.runtime import AgentRuntime
            from agentgov.registry.runtime.packaged import MANIFEST_ARTIFACT, read_manifest, read_schemas

            manifest = read_manifest(self.artifacts[MANIFEST_ARTIFACT])
            self._runtime = AgentRuntime.from_manifest(manifest, read_schemas(self.artifacts))
        return self._runtime

    def predict(self, context, model_input, params=None):
        if isinstance(model_input, pd.DataFrame):
            requests = model_input.to_dict(orient="records")
        elif isinstance(model_input, dict):
            requests = [model_input]
        else:
            requests = list(model_input)
        return pd.DataFrame([self.act(request) for request in requests])


mlflow.models.set_model(AgentModel())
