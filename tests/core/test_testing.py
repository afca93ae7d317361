"""The pytest plugin that plugin authors get with agentgov (``pytest11`` entry point)."""

from __future__ import annotations

import pytest

PLUGIN_AUTHOR_TESTS = '''
import os
from pathlib import Path

from agentgov.core import AgentRef, Event, hookimpl
from agentgov.policies import POLICIES


class NoFridays:
    name = "no-fridays"
    description = "No promotions on Fridays."
    stages = ("production",)

    def evaluate(self, context):
        raise NotImplementedError


class MyPlugin:
    @hookimpl
    def agentgov_register_policies(self, register):
        register(NoFridays())


def test_home_is_isolated(agentgov_home):
    assert os.environ["AGENTGOV_HOME"] == str(agentgov_home.root)
    assert Path.cwd() != agentgov_home.root and agentgov_home.root.is_dir()
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_config_uses_the_home(agentgov_config, agentgov_home):
    assert agentgov_config.home == agentgov_home.root
    assert agentgov_config.user == "test-user"


def test_register_a_temporary_plugin(agentgov_plugins):
    agentgov_plugins.add(MyPlugin(), "mine")
    assert {n: r.plugin for n, r in agentgov_plugins.collect(POLICIES).items() if r.plugin == "mine"} == {"no-fridays": "mine"}


def test_installed_plugins_are_not_autoloaded(agentgov_plugins):
    assert {p.source for p in agentgov_plugins.plugins()} == {"built-in"}


def test_the_temporary_plugin_is_gone(agentgov_plugins):
    assert "no-fridays" not in agentgov_plugins.collect(POLICIES)
'''


def test_plugin_authors_get_isolated_fixtures(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://should-not-leak:5000")
    pytester.makepyfile(test_my_policy=PLUGIN_AUTHOR_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
