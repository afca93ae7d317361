"""The rollout's side of routing: set the canary weight and mirror share, or turn both off.

The gateway's routing (:mod:`agentgov.deploy.traffic`) keeps the traffic
settings in one tag of the agent's registered model; the versions behind it
are the stage aliases, which only the gate moves. Each function here is
idempotent: writing what is already there changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentgov.core.crashpoints import reached

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from agentgov.core.config import Config


def set_traffic(
    config: Config, client: MlflowClient, agent: str, rollout_id: str, *, canary_weight: float, mirror_share: float
) -> dict[str, Any]:
    """The rollout's weight and mirror share, in one write; the routing as read back."""
    from agentgov.deploy.traffic import read_routing, write_routing

    now = read_routing(config, agent, client=client)
    if (now.rollout_id, now.canary_weight, now.mirror_share) == (rollout_id, float(canary_weight), float(mirror_share)):
        return now.to_dict()
    routing = write_routing(
        config, agent, rollout_id=rollout_id, canary_weight=canary_weight, mirror_share=mirror_share, client=client
    )
    reached("rollout.after-traffic")
    return routing.to_dict()


def stop_traffic(config: Config, client: MlflowClient, agent: str, rollout_id: str) -> dict[str, Any]:
    """No request to the canary, none mirrored: the first thing a rollback does."""
    return set_traffic(config, client, agent, rollout_id, canary_weight=0.0, mirror_share=0.0)


def forget_traffic(config: Config, client: MlflowClient, agent: str, rollout_id: str) -> None:
    """Drop the rollout's traffic settings once it has ended (only if they are still this rollout's)."""
    from agentgov.deploy.traffic import clear_routing, read_routing

    if read_routing(config, agent, client=client).rollout_id == rollout_id:
        clear_routing(config, agent, client=client)


def routing(config: Config, client: MlflowClient, agent: str) -> dict[str, Any]:
    from agentgov.deploy.traffic import read_routing

    return read_routing(config, agent, client=client).to_dict()
