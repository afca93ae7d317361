"""Modes and the shadow read-only setting are parsed strictly, with one-line errors."""

from __future__ import annotations

import pytest

from agentgov.core.errors import InvalidValue
from agentgov.registry.runtime import Mode
from agentgov.registry.runtime.modes import check_read_only


def test_modes_parse() -> None:
    assert [Mode.parse(m) for m in ("live", "shadow", "replay")] == [Mode.LIVE, Mode.SHADOW, Mode.REPLAY]
    assert Mode.parse(Mode.SHADOW) is Mode.SHADOW
    with pytest.raises(InvalidValue, match="mode 'canary': expected one of live, shadow, replay"):
        Mode.parse("canary")


def test_read_only_setting() -> None:
    assert check_read_only("replay") == "replay"
    with pytest.raises(InvalidValue, match="read_only 'skip': expected one of execute, replay"):
        check_read_only("skip")
