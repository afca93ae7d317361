"""Routing in the shared registry: versions from the stage aliases, the rollout's settings from one tag."""

from __future__ import annotations

import json
import uuid

import pytest

from agentgov.core.config import Config
from agentgov.core.errors import InvalidValue
from agentgov.deploy.routing import assign, mirrored
from agentgov.deploy.traffic import TAG_TRAFFIC, Routing, clear_routing, read_routing, routing_of, write_routing


def test_versions_come_from_the_aliases_and_settings_from_the_tag() -> None:
    tag = json.dumps({"id": "r-7", "canary_weight": 0.25, "mirror_share": 0.5})
    routing = routing_of(
        "router", {"production": "3", "canary": "4", "shadow": "5", "previous-production": "2"}, {TAG_TRAFFIC: tag}
    )
    assert routing == Routing("router", 3, 4, 0.25, 5, 0.5, "r-7")


def test_without_the_tag_a_canary_gets_nothing_and_a_shadow_sees_everything() -> None:
    routing = routing_of("router", {"production": 3, "canary": 4}, {})
    assert (routing.canary_weight, routing.mirror_share, routing.rollout_id) == (0.0, 1.0, "router/4")
    assert all(routing.route(f"k{i}") == ("primary", 3) for i in range(200))
    assert routing_of("router", {"production": 3, "shadow": 5}, {}).rollout_id == "router/5"


def test_route_and_mirrors_follow_the_sticky_hash_of_the_rollout() -> None:
    routing = Routing("router", 1, canary=2, canary_weight=0.3, shadow=3, mirror_share=0.2, rollout_id="r-1")
    for key in (f"user-{i}" for i in range(500)):
        expected = ("canary", 2) if assign("r-1", key, 0.3) == "canary" else ("primary", 1)
        assert routing.route(key) == expected
        assert routing.mirrors(key) == mirrored("r-1", key, 0.2)
    assert not Routing("router", 1, mirror_share=1.0).mirrors("anyone")  # no shadow version


@pytest.mark.parametrize(
    "tag", ["not json", "[1]", json.dumps({"canary_weight": 2}), json.dumps({"mirror_share": "all"})]
)
def test_a_tag_that_cannot_be_read_is_an_error_not_a_guess(tag: str) -> None:
    with pytest.raises(InvalidValue):
        routing_of("router", {"production": 1}, {TAG_TRAFFIC: tag})


def test_write_and_read_back_through_a_real_registry(agentgov_config: Config) -> None:
    from agentgov.registry.backend import connect

    client = connect(agentgov_config)
    name = f"traffic-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    for version in range(3):
        client.create_model_version(name, source=f"file:///nowhere/{version}")
    client.set_registered_model_alias(name, "production", "1")
    client.set_registered_model_alias(name, "canary", "2")
    assert read_routing(agentgov_config, name) == Routing(name, 1, 2, 0.0, None, 1.0, f"{name}/2")

    written = write_routing(agentgov_config, name, rollout_id="r-9", canary_weight=0.05, mirror_share=0.0)
    assert written == read_routing(agentgov_config, name) == Routing(name, 1, 2, 0.05, None, 0.0, "r-9")
    with pytest.raises(InvalidValue, match="canary weight"):
        write_routing(agentgov_config, name, rollout_id="r-9", canary_weight=1.5)
    with pytest.raises(InvalidValue, match="rollout id"):
        write_routing(agentgov_config, name, rollout_id="")
    assert read_routing(agentgov_config, name).canary_weight == 0.05  # a refused write changed nothing

    clear_routing(agentgov_config, name)
    assert read_routing(agentgov_config, name).canary_weight == 0.0
