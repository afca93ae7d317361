"""Sticky canary routing: the share tracks the weight, no key flips back, mirroring is independent."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

from agentgov.core.errors import InvalidValue
from agentgov.deploy.routing import assign, mirrored, point

KEYS = [f"user-{i}" for i in range(10_000)]
WEIGHTS = (0.05, 0.25, 0.50)


def _canary(rollout: str, weight: float) -> set[str]:
    return {key for key in KEYS if assign(rollout, key, weight) == "canary"}


@pytest.mark.parametrize("weight", WEIGHTS)
def test_the_canary_share_tracks_the_weight_within_two_points(weight: float) -> None:
    share = len(_canary("rollout-1", weight)) / len(KEYS)
    assert abs(share - weight) <= 0.02, share


def test_raising_the_weight_never_moves_a_key_back_to_primary() -> None:
    on_canary = [_canary("rollout-1", weight) for weight in (0.0, *WEIGHTS, 1.0)]
    assert on_canary[0] == set() and on_canary[-1] == set(KEYS)
    for lower, higher in itertools.pairwise(on_canary):
        assert lower <= higher


def test_a_key_stays_on_its_version_at_a_given_weight() -> None:
    assert all(assign("rollout-1", key, 0.25) == assign("rollout-1", key, 0.25) for key in KEYS[:1000])


def test_another_rollout_draws_other_keys() -> None:
    first, second = _canary("rollout-1", 0.25), _canary("rollout-2", 0.25)
    overlap = len(first & second) / len(first)
    assert abs(overlap - 0.25) <= 0.04  # independent: a quarter of one canary is in the other


def test_mirroring_is_independent_of_the_canary_assignment() -> None:
    canary = _canary("rollout-1", 0.5)
    for share in (0.1, 0.3):
        shadowed = {key for key in KEYS if mirrored("rollout-1", key, share)}
        assert abs(len(shadowed) / len(KEYS) - share) <= 0.02
        on_canary = len(shadowed & canary) / len(canary)
        on_primary = len(shadowed - canary) / (len(KEYS) - len(canary))
        assert abs(on_canary - share) <= 0.025 and abs(on_primary - share) <= 0.025


def test_the_hash_is_the_same_in_every_process() -> None:
    code = (
        "from agentgov.deploy.routing import point; print([point('agentgov.canary', 'r', f'k{i}') for i in range(5)])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {repr([point("agentgov.canary", "r", f"k{i}") for i in range(5)]) + "\n"}


def test_the_parts_of_the_hash_do_not_run_together() -> None:
    assert point("s", "a:b", "c") != point("s", "a", "b:c")


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_a_weight_outside_zero_to_one_is_refused(weight: object) -> None:
    with pytest.raises(InvalidValue, match="from 0 to 1"):
        assign("rollout-1", "user-1", weight)  # type: ignore[arg-type]


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(InvalidValue, match="request id"):
        assign("rollout-1", "", 0.5)
