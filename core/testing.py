"""A pytest plugin for people who write agentgov plugins (and for agentgov's own tests).

Installed with agentgov under the ``pytest11`` entry point, so the fixtures are
available in any test suite once agentgov is installed:

``agentgov_home``
    A fresh home folder and project folder; the working directory is the
    project and every ``AGENTGOV_*``/``MLFLOW_*`` variable (and ``COLUMNS``) from
    the outside environment is cleared, so nothing leaks in or out.
``agentgov_config``
    The effective :class:`~agentgov.core.config.Config` for that home.
``agentgov_plugins``
    A plugin manager with the built-in plugins and *no* installed plugins.
    ``agentgov_plugins.add(plugin)`` registers a plugin for the test; it is
    unregistered afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentgov.core.config import Config, load_config
from agentgov.core.home import Home
from agentgov.core.plugins import PluginManager

_LEAKY_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "PREFECT_API_URL",
    # The outside terminal's size (pytest-xdist workers start with COLUMNS=80): tables print as when piped.
    "COLUMNS",
    "LINES",
)


class IsolatedPlugins(PluginManager):
    """A plugin manager whose test-registered plugins are removed at teardown."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._added: list[str] = []

    def add(self, plugin: object, name: str | None = None) -> str:
        name = self.register(plugin, name)
        self._added.append(name)
        return name

    def remove_added(self) -> None:
        while self._added:
            self.unregister(self._added.pop())


@pytest.fixture
def agentgov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    for name in list(os.environ):
        if name.startswith("AGENTGOV_") or name in _LEAKY_VARIABLES:
            monkeypatch.delenv(name)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    home = Home(tmp_path / "home")
    monkeypatch.setenv("AGENTGOV_HOME", str(home.root))
    monkeypatch.setenv("AGENTGOV_USER", "test-user")
    # Commands run in this process's way, not through a control plane per test home (one would start for
    # each test and outlive it); a test of the control plane sets AGENTGOV_NO_SERVER=0.
    monkeypatch.setenv("AGENTGOV_NO_SERVER", "1")
    home.create()
    return home


@pytest.fixture
def agentgov_config(agentgov_home: Home) -> Config:
    return load_config()


@pytest.fixture
def agentgov_plugins(agentgov_config: Config) -> Iterator[IsolatedPlugins]:
    manager = IsolatedPlugins(agentgov_config)
    manager.load_builtins()
    try:
        yield manager
    finally:
        manager.remove_added()
