"""``agentgov plugins list`` says what each built-in provides, connector kinds included."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from agentgov.core.home import Home

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_the_built_in_connector_kinds_are_listed_with_what_they_provide(run_cli: Run, agentgov_home: Home) -> None:
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "list", "--json", check=True).stdout)}
    assert (plugins["http"]["provides"], plugins["http"]["hooks"]) == (
        ["connector kind http"],
        ["agentgov_register_connectors"],
    )
    assert plugins["sqlite"]["provides"] == ["connector kind sqlite"]
