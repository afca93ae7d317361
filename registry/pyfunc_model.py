"""The MLflow *models-from-code* file that wraps an agent with an ``act()`` method.

MLflow stores this file, not a pickle, and runs it when the model is loaded.
``model_config`` names the agent's module and class; the agent's own files
travel as ``code_paths`` and are importable when the model loads.
Not imported by agentgov itself: it calls ``set_model`` at import.
"""

import importlib

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class AgentModel(PythonModel):
    def load_context(self, context):
        config = context.model_config
        module = importlib.import_module(config["module"])
        self.agent = getattr(module, config["class"])()

    def act(self, request):
        return self.agent.act(request)

    def predict(self, context, model_input, params=None):
        if isinstance(model_input, pd.DataFrame):
            requests = model_input.to_dict(orient="records")
        elif isinstance(model_input, dict):
            requests = [model_input]
        else:
            requests = list(model_input)
        return pd.DataFrame([self.agent.act(request) for request in requests])


mlflow.models.set_model(AgentModel())
