"""The CLI's tests run commands as a user's run by default: through the home's control plane, which the first
command of a home starts (``_no_control_plane_left`` stops a test's own; a module's or the session's home keeps
its control plane warm until the run ends). Tests that need a command in process say ``AGENTGOV_NO_SERVER=1``."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _default_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGOV_NO_SERVER", "0")
