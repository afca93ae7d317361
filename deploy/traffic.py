"""Where an agent's traffic goes, as every gateway replica reads it from the shared registry.

Routing lives on the agent's registered model in MLflow, nothing only in a
process's memory, so several gateways on several machines agree:

* the versions come from the stage aliases (``production``, ``canary``,
  ``shadow``), which only the gate moves;
* the traffic settings of the rollout are one tag, ``agentgov.rollout.traffic``:
  ``{"id": ..., "canary_weight": 0.05, "mirror_share": 1.0}``. One tag, not one
  per value, because MLflow writes tags one by one: a reader between two
  writes would see a new rollout id with the old weight. One registered-model
  read returns the aliases and the tag together.

Without the tag (no rollout started), the canary gets no traffic and a shadow
gets every request mirrored; the rollout id then names the candidate version,
so keys are still hashed per candidate. :func:`write_routing` is how a rollout
controller (or an operator) sets the weight, the mirror share and the id; it
refuses values :mod:`agentgov.deploy.routing` would refuse.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import InvalidValue
from agentgov.deploy.routing import Role, assign, mirrored
from agentgov.registry.store import mlflow_errors

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from agentgov.core.config import Config

TAG_TRAFFIC = "agentgov.rollout.traffic"
DEFAULT_CANARY_WEIGHT = 0.0  # a canary gets traffic only when a rollout gives it a weight
DEFAULT_MIRROR_SHARE = 1.0  # a version put in shadow is there to see the traffic


@dataclass(frozen=True)
class Routing:
    """One agent's routing: which version answers, which shadows, and the shares."""

    agent: str
    production: int | None
    canary: int | None = None
    canary_weight: float = DEFAULT_CANARY_WEIGHT
    shadow: int | None = None
    mirror_share: float = DEFAULT_MIRROR_SHARE
    rollout_id: str = ""

    def __post_init__(self) -> None:
        for what, value in (("canary weight", self.canary_weight), ("mirror share", self.mirror_share)):
            _check_share(value, what)

    def route(self, key: str) -> tuple[Role, int | None]:
        """``("canary", n)`` when the key's point lies below the canary weight, else ``("primary", production)``."""
        if (
            self.canary is not None
            and self.canary_weight > 0
            and assign(self._id(), key, self.canary_weight) == "canary"
        ):
            return "canary", self.canary
        return "primary", self.production

    def mirrors(self, key: str) -> bool:
        """Whether this key's request is copied to the shadow version (independent of :meth:`route`)."""
        return self.shadow is not None and self.mirror_share > 0 and mirrored(self._id(), key, self.mirror_share)

    def _id(self) -> str:
        return self.rollout_id or default_rollout_id(self.agent, self.canary, self.shadow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "production": self.production,
            "canary": self.canary,
            "canary_weight": self.canary_weight,
            "shadow": self.shadow,
            "mirror_share": self.mirror_share,
            "rollout_id": self._id(),
        }


def default_rollout_id(agent: str, canary: int | None, shadow: int | None) -> str:
    candidate = canary if canary is not None else shadow
    return f"{agent}/{candidate}" if candidate is not None else agent


def routing_of(agent: str, aliases: Mapping[str, Any], tags: Mapping[str, str]) -> Routing:
    """The routing a registered model's aliases and tags describe; a tag that cannot be read is an error."""
    versions = {
        alias: int(aliases[alias]) if alias in aliases else None for alias in ("production", "canary", "shadow")
    }
    traffic: dict[str, Any] = {}
    text = tags.get(TAG_TRAFFIC)
    if text:
        try:
            traffic = json.loads(text)
            if not isinstance(traffic, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise InvalidValue(f"{agent}: tag {TAG_TRAFFIC} is not a JSON object ({exc})") from None
    rollout_id = traffic.get("id") or default_rollout_id(agent, versions["canary"], versions["shadow"])
    shares = {}
    for name, default in (("canary_weight", DEFAULT_CANARY_WEIGHT), ("mirror_share", DEFAULT_MIRROR_SHARE)):
        value = traffic.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"{agent}: tag {TAG_TRAFFIC}: {name} must be a number from 0 to 1, got {value!r}")
        shares[name] = float(value)
    return Routing(
        agent=agent,
        production=versions["production"],
        canary=versions["canary"],
        shadow=versions["shadow"],
        rollout_id=str(rollout_id),
        **shares,
    )


def read_routing(config: Config, agent: str, *, client: MlflowClient | None = None) -> Routing:
    """The agent's routing as the registry holds it now (one read of its registered model)."""
    if client is None:
        from agentgov.registry.backend import connect

        client = connect(config)
    with mlflow_errors(f"agent {agent}"):
        model = client.get_registered_model(agent)
    return routing_of(agent, dict(model.aliases or {}), dict(model.tags or {}))


def write_routing(
    config: Config,
    agent: str,
    *,
    rollout_id: str,
    canary_weight: float = DEFAULT_CANARY_WEIGHT,
    mirror_share: float = DEFAULT_MIRROR_SHARE,
    client: MlflowClient | None = None,
) -> Routing:
    """Set the rollout's traffic settings in one tag write; the versions stay where the gate put them.

    Gateways pick the change up at their next refresh. Returns the routing as
    read back.
    """
    if not isinstance(rollout_id, str) or not rollout_id:
        raise InvalidValue(f"a rollout id must be a non-empty string, got {rollout_id!r}")
    _check_share(canary_weight, "canary weight")
    _check_share(mirror_share, "mirror share")
    if client is None:
        from agentgov.registry.backend import connect

        client = connect(config)
    value = json.dumps(
        {"id": rollout_id, "canary_weight": float(canary_weight), "mirror_share": float(mirror_share)}, sort_keys=True
    )
    with mlflow_errors(f"agent {agent}"):
        client.set_registered_model_tag(agent, TAG_TRAFFIC, value)
    return read_routing(config, agent, client=client)


def clear_routing(config: Config, agent: str, *, client: MlflowClient | None = None) -> None:
    """Drop the traffic settings (after a rollout ends): the defaults apply again."""
    if client is None:
        from agentgov.registry.backend import connect

        client = connect(config)
    with mlflow_errors(f"agent {agent}"):
        model = client.get_registered_model(agent)
        if TAG_TRAFFIC in (model.tags or {}):
            client.delete_registered_model_tag(agent, TAG_TRAFFIC)


def _check_share(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or not 0 <= value <= 1:
        raise InvalidValue(f"a {what} must be a number from 0 to 1, got {value!r}")
