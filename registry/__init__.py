"""The agent registry on MLflow: versions, stages, lineage.

The public API::

    from agentgov.registry import load_agent
    agent = load_agent("support-router@production")
    agent.act({"text": "where is my refund?"})
"""

from agentgov.registry.loading import LoadedAgent, agent_from_model_dir, load_agent
from agentgov.registry.model import AgentVersion

__all__ = ["AgentVersion", "LoadedAgent", "agent_from_model_dir", "load_agent"]
