from pathlib import Path

import pytest

from agentgov.core.config import load_config
from agentgov.core.errors import ConfigError
from agentgov.core.plugins import PluginManager
from agentgov.core.types import PolicyMode, Stage
from agentgov.policies import POLICIES
from agentgov.policies.settings import DEFAULT_TIMEOUT_S, stage_policies


def _policies(toml: str, plugins: PluginManager, stage: Stage = Stage.PRODUCTION):
    Path("agentgov.toml").write_text(toml)
    return stage_policies(load_config(), stage, plugins.collect(POLICIES))


def test_no_configuration_means_no_built_in_policy_runs(agentgov_plugins: PluginManager) -> None:
    assert _policies("", agentgov_plugins) == []


def test_modes_parameters_and_time_limits_are_read_in_file_order(agentgov_plugins: PluginManager) -> None:
    found = _policies(
        """
[stages.production]
timeout_s = 5
[stages.production.policies.human-approval]
approvals_by_tier = { high = 3 }
[stages.production.policies.eval-thresholds]
required = false
min_samples = 50
timeout_s = 2
[stages.production.policies.change-freeze]
mode = "dry-run"
""",
        agentgov_plugins,
    )
    assert [(p.name, p.mode, dict(p.params), p.timeout_s) for p in found] == [
        ("human-approval", PolicyMode.ENFORCE, {"approvals_by_tier": {"high": 3}}, 5.0),
        ("eval-thresholds", PolicyMode.WARN, {"min_samples": 50}, 2.0),
        ("change-freeze", PolicyMode.DRY_RUN, {}, 5.0),
    ]


def test_inline_tables_work_too(agentgov_plugins: PluginManager) -> None:
    found = _policies('[stages.shadow.policies]\nlineage-complete = { allow_dirty = true }\n', agentgov_plugins, Stage.SHADOW)
    assert [(p.name, dict(p.params), p.timeout_s) for p in found] == [("lineage-complete", {"allow_dirty": True}, DEFAULT_TIMEOUT_S)]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[stages.production.policies.change-freeze]\nmode = "loud"\n', "line 2: unknown mode 'loud'"),
        ('[stages.production.policies.change-freeze]\nmode = "warn"\nrequired = true\n', "line 3: 'required = true' contradicts"),
        ("[stages.production.policies.change-freeze]\nwindow = []\n", "line 2: policy 'change-freeze' has no parameter 'window' (it takes: windows)"),
        ("[stages.production.policies.change-freeze]\ntimeout_s = 0\n", "line 2: timeout_s must be a positive number"),
        ("[stages.canary.policies.change-freeze]\n", "policy 'change-freeze' does not guard canary (it guards: production)"),
        ("[stages.production]\npolicy = 1\n", "line 2: unknown setting 'policy' in [stages.production]"),
        ("[stages.production.policies]\nchange-freeze = 1\n", "line 2: [stages.production.policies.change-freeze] must be a table"),
        ('[stages.production.policies.change-freeze]\nisolation = "vm"\n', "line 2: isolation must be \"thread\" or \"process\", got 'vm'"),
        ('[stages.production]\nisolation = true\n', "line 2: isolation must be \"thread\" or \"process\", got True"),
    ],
)
def test_mistakes_name_the_file_and_line(agentgov_plugins: PluginManager, toml: str, message: str) -> None:
    stage = Stage.CANARY if "canary" in toml else Stage.PRODUCTION
    with pytest.raises(ConfigError, match=r"agentgov\.toml") as caught:
        _policies(toml, agentgov_plugins, stage)
    assert message in str(caught.value)


def test_a_configured_policy_no_plugin_provides_is_kept_for_the_gate_to_fail(agentgov_plugins: PluginManager) -> None:
    [found] = _policies("[stages.production.policies.not-installed]\nanything = 1\n", agentgov_plugins)
    assert (found.name, dict(found.params)) == ("not-installed", {"anything": 1})


class _DefaultOn:
    name = "always-watching"
    description = "enabled by its plugin"
    stages = frozenset({Stage.PRODUCTION})

    def evaluate(self, context):  # pragma: no cover - not evaluated here
        return context.passed("ok")


def test_enabled_by_default_policies_run_unless_switched_off(agentgov_plugins) -> None:
    policy = _DefaultOn()
    policy.enabled_by_default = True

    class Plugin:
        @staticmethod
        def agentgov_register_policies(register):
            register(policy)

    agentgov_plugins.add(Plugin(), "default-on")
    assert [(p.name, p.configured) for p in _policies("", agentgov_plugins)] == [("always-watching", False)]
    assert _policies("", agentgov_plugins, Stage.CANARY) == []
    assert _policies('[stages.production.policies.always-watching]\nmode = "off"\n', agentgov_plugins) == []


def test_isolation_is_set_per_stage_and_per_policy_and_is_not_a_parameter(agentgov_plugins: PluginManager) -> None:
    found = _policies(
        """
[stages.production]
isolation = "process"
[stages.production.policies.human-approval]
[stages.production.policies.change-freeze]
isolation = "thread"
""",
        agentgov_plugins,
    )
    assert [(p.name, p.isolation, dict(p.params)) for p in found] == [("human-approval", "process", {}), ("change-freeze", "thread", {})]
    assert [p.isolation for p in _policies("[stages.production.policies.change-freeze]\n", agentgov_plugins)] == ["thread"]
