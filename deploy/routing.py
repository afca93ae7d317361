"""Sticky canary routing and mirror sampling: which version answers a request, and whether it is mirrored.

A request key (a user, a session, a conversation) is hashed with the rollout's
id into a point of [0, 1); the key goes to the canary when that point lies
below the canary's weight. The point never changes for a (rollout, key), so:

* a key stays on one version for the whole rollout at a given weight;
* raising the weight only adds keys to the canary, never moves one back
  (every point below 0.05 is also below 0.25);
* the canary's share of keys tracks the weight (the points are uniform);
* a new rollout draws new points, so the same users are not always first.

Mirroring to the shadow hashes with a different salt, so whether a request is
mirrored is independent of whether it went to the canary. The hash is
SHA-256, not Python's ``hash()``, which differs between processes: every
gateway replica routes a key the same way.

A request without a key of its own should be routed by its request id, never
by a shared constant: an empty key is refused because all keyless requests
would land on the same side.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Literal

from agentgov.core.errors import InvalidValue

Role = Literal["canary", "primary"]
CANARY_SALT = "agentgov.canary"
MIRROR_SALT = "agentgov.mirror"
_SCALE = float(1 << 64)


def point(salt: str, rollout_id: str, key: str) -> float:
    """A stable point of [0, 1) for ``(salt, rollout_id, key)``."""
    if not isinstance(rollout_id, str) or not rollout_id:
        raise InvalidValue(f"a rollout id must be a non-empty string, got {rollout_id!r}")
    if not isinstance(key, str) or not key:
        raise InvalidValue(
            f"a routing key must be a non-empty string (route a keyless request by its request id), got {key!r}"
        )
    # JSON keeps the parts apart: ("a:b", "c") and ("a", "b:c") hash differently.
    digest = hashlib.sha256(json.dumps([salt, rollout_id, key]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign(rollout_id: str, key: str, weight: float) -> Role:
    """``"canary"`` when the key's point lies below ``weight`` (a share of 0 to 1), else ``"primary"``."""
    return "canary" if point(CANARY_SALT, rollout_id, key) < _share(weight, "canary weight") else "primary"


def mirrored(rollout_id: str, key: str, share: float) -> bool:
    """Whether this request is copied to the shadow: independent of :func:`assign` for the same key."""
    return point(MIRROR_SALT, rollout_id, key) < _share(share, "mirror share")


def _share(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or not 0 <= value <= 1:
        raise InvalidValue(f"a {what} must be a number from 0 to 1, got {value!r}")
    return float(value)
