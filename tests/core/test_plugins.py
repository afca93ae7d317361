from __future__ import annotations

import logging
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agentgov.core import AgentRef, Event, PluginError, PolicyResult, Stage, hookimpl
from agentgov.core.config import load_config
from agentgov.core.home import Home
from agentgov.core.plugins import DEFAULT_PLUGINS, PluginManager, builtin_name, load_plugins
from agentgov.deploy import DEPLOY_TARGETS
from agentgov.evals import EVALUATORS
from agentgov.policies import POLICIES

GOOD_POLICY = """
from agentgov.core import hookimpl, PolicyResult

class NoFridays:
    name = "no-fridays"
    description = "No promotions on Fridays."
    stages = ("production",)
    def evaluate(self, context):
        return PolicyResult(self.name, "pass", "not a Friday")

@hookimpl
def agentgov_register_policies(register):
    register(NoFridays())
"""


def _third_party(found: dict) -> list[str]:
    """The names registered by plugins other than agentgov's built-ins."""
    built_in = {builtin_name(module) for module in DEFAULT_PLUGINS}
    return sorted(name for name, registered in found.items() if registered.plugin not in built_in)


@dataclass(frozen=True)
class Policy:
    name: str
    description: str = "test policy"
    stages: frozenset[Stage] = frozenset({Stage.PRODUCTION})

    def evaluate(self, context: object) -> PolicyResult:
        return PolicyResult(self.name, "pass", "fine")


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    @hookimpl
    def agentgov_on_event(self, event: Event) -> None:
        self.events.append(event)


def _event() -> Event:
    return Event("promoted", AgentRef("router", version=1), "alice")


def test_builtin_plugins_load_by_module_name(agentgov_plugins: PluginManager) -> None:
    infos = {i.module: i for i in agentgov_plugins.plugins()}
    assert set(DEFAULT_PLUGINS) <= set(infos)
    assert all(i.source == "built-in" and i.status == "loaded" for i in infos.values())
    assert infos["agentgov.plugins.events.log_events"].name == "log-events"
    assert infos["agentgov.plugins.events.log_events"].hooks == ("agentgov_on_event",)


def test_installed_plugins_load_from_the_agentgov_entry_point_group(agentgov_home: Home, fake_distribution: Callable[..., Path]) -> None:
    fake_distribution("acme-governance", {"acme_policies": GOOD_POLICY}, {"acme": "acme_policies"}, version="2.3")
    manager = load_plugins(load_config())
    info = {i.name: i for i in manager.plugins()}["acme"]
    assert (info.source, info.distribution, info.version, info.status) == ("entry point", "acme-governance", "2.3", "loaded")
    assert info.hooks == ("agentgov_register_policies",)
    policies = manager.collect(POLICIES)
    assert policies["no-fridays"].plugin == "acme"
    assert manager.problems == []


def test_a_plugin_that_fails_to_import_is_named_and_the_others_still_load(
    agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    fake_distribution("acme-broken", {"acme_broken": "raise RuntimeError('missing licence key')"}, {"broken": "acme_broken"})
    fake_distribution("acme-governance", {"acme_policies": GOOD_POLICY}, {"acme": "acme_policies"})
    manager = load_plugins(load_config())
    infos = {i.name: i for i in manager.plugins()}
    assert infos["broken"].status == "error"
    assert infos["acme"].status == "loaded"
    [problem] = manager.problems
    assert str(problem) == (
        "plugin 'broken' (from acme-broken): failed to import acme_broken: RuntimeError: missing licence key"
    )
    assert "no-fridays" in manager.collect(POLICIES)


def test_a_misspelt_hook_is_caught_by_check_pending_and_names_the_plugin(
    agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    source = "from agentgov.core import hookimpl\n@hookimpl\ndef agentgov_register_polices(register):\n    pass\n"
    fake_distribution("acme-typo", {"acme_typo": source}, {"typo": "acme_typo"})
    manager = load_plugins(load_config())
    [problem] = manager.problems
    assert problem.plugin == "typo"
    assert problem.distribution == "acme-typo"
    assert "implements unknown hook 'agentgov_register_polices'" in problem.message
    assert "agentgov_register_policies" in problem.message  # the hooks it could have meant
    assert {i.name: i.status for i in manager.plugins()}["typo"] == "error"


def test_an_unmarked_misspelt_hook_is_caught_too(agentgov_plugins: PluginManager) -> None:
    class Plugin:
        def agentgov_on_evnt(self, event: Event) -> None: ...

    with pytest.raises(PluginError, match=r"plugin 'typo'.*unknown hook 'agentgov_on_evnt'"):
        agentgov_plugins.register(Plugin(), "typo")
    assert "typo" not in {i.name for i in agentgov_plugins.plugins() if i.status == "loaded"}


def test_a_hook_with_arguments_the_spec_lacks_is_rejected(agentgov_plugins: PluginManager) -> None:
    class Plugin:
        @hookimpl
        def agentgov_on_event(self, event: Event, extra: int) -> None: ...

    with pytest.raises(PluginError, match=r"Argument\(s\) \{'extra'\} are declared in the hookimpl"):
        agentgov_plugins.register(Plugin(), "extra-args")


@pytest.mark.parametrize(
    ("registered", "message"),
    [
        ("no-fridays", "registered str 'no-fridays', which is not a policy: it has no name, description, evaluate"),
        (Policy(name="No Fridays"), "which is not a policy: name 'No Fridays' must be lowercase"),
        (Policy(name="x", stages=frozenset({"staging"})), "which is not a policy: stages: unknown stage 'staging'"),
        (Policy(name="x", stages="production"), "stages must be a collection of stage names, not a string"),
    ],
)
def test_registering_the_wrong_type_names_the_hook_and_the_plugin(
    agentgov_plugins: PluginManager, registered: object, message: str
) -> None:
    class Plugin:
        @hookimpl
        def agentgov_register_policies(self, register: Callable[[object], None]) -> None:
            register(registered)
            register(Policy("still-registered"))

    agentgov_plugins.add(Plugin(), "sloppy")
    assert _third_party(agentgov_plugins.collect(POLICIES)) == ["still-registered"]
    [problem] = agentgov_plugins.problems
    assert (problem.plugin, problem.hook) == ("sloppy", "agentgov_register_policies")
    assert message in problem.message
    assert str(problem).startswith("plugin 'sloppy', hook agentgov_register_policies: registered")


def test_a_hook_that_returns_instead_of_registering_is_reported(agentgov_plugins: PluginManager) -> None:
    class Plugin:
        @hookimpl
        def agentgov_register_policies(self, register: Callable[[object], None]) -> list[Policy]:
            return [Policy("forgotten")]

    agentgov_plugins.add(Plugin(), "returner")
    assert _third_party(agentgov_plugins.collect(POLICIES)) == []
    [problem] = agentgov_plugins.problems
    assert problem.plugin == "returner"
    assert "returned list" in problem.message and "call register(...) for each policy instead" in problem.message


def test_a_hook_that_raises_while_registering_is_reported(agentgov_plugins: PluginManager) -> None:
    class Plugin:
        @hookimpl
        def agentgov_register_evaluators(self, register: Callable[[object], None]) -> None:
            raise KeyError("config")

    agentgov_plugins.add(Plugin(), "crashy")
    assert set(agentgov_plugins.collect(EVALUATORS)) == {"evidently-drift"}  # the built-in one only
    assert str(agentgov_plugins.problems[0]) == "plugin 'crashy', hook agentgov_register_evaluators: raised KeyError: 'config'"


def test_two_plugins_cannot_register_the_same_name(agentgov_plugins: PluginManager) -> None:
    class First:
        @hookimpl
        def agentgov_register_policies(self, register: Callable[[object], None]) -> None:
            register(Policy("pii"))

    class Second:
        @hookimpl
        def agentgov_register_policies(self, register: Callable[[object], None]) -> None:
            register(Policy("pii"))

    agentgov_plugins.add(First(), "first")
    agentgov_plugins.add(Second(), "second")
    found = agentgov_plugins.collect(POLICIES)
    assert _third_party(found) == ["pii"]
    [problem] = agentgov_plugins.problems
    assert "policy name 'pii' is already registered by plugin" in problem.message
    assert {problem.plugin, found["pii"].plugin} == {"first", "second"}


def test_deploy_targets_and_evaluators_are_checked_against_their_protocols(agentgov_plugins: PluginManager) -> None:
    class Target:
        name = "local"
        description = "local"

        def deploy(self, agent: object) -> None: ...

    class Plugin:
        @hookimpl
        def agentgov_register_deploy_targets(self, register: Callable[[object], None]) -> None:
            register(Target())

    agentgov_plugins.add(Plugin(), "half-target")
    assert sorted(agentgov_plugins.collect(DEPLOY_TARGETS)) == ["bentoml-local", "kubernetes"]  # the built-ins, not "local"
    assert "which is not a deploy target: it has no undeploy" in agentgov_plugins.problems[0].message


def test_events_reach_every_plugin_and_a_failing_one_does_not_stop_the_others(agentgov_plugins: PluginManager) -> None:
    class Failing:
        @hookimpl(tryfirst=True)
        def agentgov_on_event(self, event: Event) -> None:
            raise ConnectionError("slack is down")

    recorder = Recorder()
    agentgov_plugins.add(Failing(), "failing")
    agentgov_plugins.add(recorder, "recorder")
    event = _event()
    agentgov_plugins.emit(event)
    assert recorder.events == [event]
    assert str(agentgov_plugins.problems[0]) == "plugin 'failing', hook agentgov_on_event: raised ConnectionError: slack is down"


def test_temporary_plugins_are_unregistered_after_the_test(agentgov_plugins: PluginManager) -> None:
    recorder = Recorder()
    agentgov_plugins.add(recorder, "temporary")
    agentgov_plugins.remove_added()
    agentgov_plugins.emit(_event())
    assert recorder.events == []
    assert "temporary" not in {i.name for i in agentgov_plugins.plugins()}


def test_block_list_applies_to_builtin_and_installed_plugins(
    agentgov_home: Home, fake_distribution: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution("acme-governance", {"acme_policies": GOOD_POLICY}, {"acme": "acme_policies"})
    monkeypatch.setenv("AGENTGOV_PLUGINS_BLOCK", "log-events,acme-governance")
    manager = load_plugins(load_config())
    statuses = {i.name: i.status for i in manager.plugins()}
    assert (statuses["log-events"], statuses["acme"]) == ("blocked", "blocked")
    assert "no-fridays" not in manager.collect(POLICIES)


def test_only_list_limits_installed_plugins_and_keeps_builtins(
    agentgov_home: Home, fake_distribution: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution("acme-governance", {"acme_policies": GOOD_POLICY}, {"acme": "acme_policies"})
    fake_distribution("other-plugin", {"other_plugin": "x = 1"}, {"other": "other_plugin"})
    monkeypatch.setenv("AGENTGOV_PLUGINS_ONLY", "acme")
    statuses = {i.name: i.status for i in load_plugins(load_config()).plugins()}
    assert statuses["log-events"] == "loaded"
    assert statuses["acme"] == "loaded"
    assert statuses["other"] == "blocked"


def test_tracing_logs_every_hook_call_at_debug(
    agentgov_home: Home, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AGENTGOV_TRACE_PLUGINS", "1")
    manager = PluginManager(load_config())
    manager.load_builtins()
    recorder = Recorder()
    manager.register(recorder, "recorder")

    class Timing:
        @hookimpl(wrapper=True)
        def agentgov_on_event(self, event: Event):  # type: ignore[no-untyped-def]
            return (yield)

    manager.register(Timing(), "timing")
    with caplog.at_level(logging.DEBUG, logger="agentgov.plugins.trace"):
        manager.emit(_event())
    messages = [r.getMessage() for r in caplog.records if r.name == "agentgov.plugins.trace"]
    assert any(m.startswith("agentgov_on_event -> recorder (") for m in messages)
    assert any(m.startswith("agentgov_on_event -> timing (wrapper, ") for m in messages)
    assert any(m.startswith("agentgov_on_event -> log-events (") for m in messages)
    assert any("agentgov_on_event [hook]" in m for m in messages)  # pluggy's own trace: emit calls through pluggy


def test_tracing_is_off_by_default(agentgov_plugins: PluginManager, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="agentgov.plugins.trace"):
        agentgov_plugins.emit(_event())
    assert not [r for r in caplog.records if r.name == "agentgov.plugins.trace"]


def test_two_plugins_cannot_share_a_name(agentgov_plugins: PluginManager) -> None:
    agentgov_plugins.add(Recorder(), "recorder")
    with pytest.raises(PluginError, match=r"plugin 'recorder': a plugin with this name.*is already registered"):
        agentgov_plugins.add(Recorder(), "recorder")


# -- hooks are called through pluggy: order, wrappers, and isolation per plugin --


def test_tryfirst_and_trylast_order_the_calls_as_pluggy_documents(agentgov_plugins: PluginManager) -> None:
    calls: list[str] = []

    def plugin(name: str, **opts: bool) -> object:
        class Plugin:
            @hookimpl(**opts)
            def agentgov_on_event(self, event: Event) -> None:
                calls.append(name)

            @hookimpl(**opts)
            def agentgov_register_policies(self, register: Callable[[object], None]) -> None:
                register(Policy("contested", description=f"from {name}"))

        return Plugin()

    agentgov_plugins.add(plugin("last", trylast=True), "last")
    agentgov_plugins.add(plugin("first", tryfirst=True), "first")
    agentgov_plugins.add(plugin("plain-1"), "plain-1")
    agentgov_plugins.add(plugin("plain-2"), "plain-2")  # registered later, so called before plain-1
    agentgov_plugins.emit(_event())
    assert calls == ["first", "plain-2", "plain-1", "last"]
    found = agentgov_plugins.collect(POLICIES)
    assert found["contested"].plugin == "first"  # the first caller's name wins; the others are told
    assert sorted(p.plugin for p in agentgov_plugins.problems) == ["last", "plain-1", "plain-2"]


def test_a_wrapper_runs_around_the_other_registrations_and_sees_the_result(agentgov_plugins: PluginManager) -> None:
    calls: list[str] = []

    class Audit:
        @hookimpl(wrapper=True)
        def agentgov_register_policies(self, register: Callable[[object], None]):  # type: ignore[no-untyped-def]
            calls.append("audit: before")
            result = yield
            calls.append(f"audit: after, result {result!r}")
            register(Policy("audit-registered-last"))
            return result

    class Plain:
        @hookimpl
        def agentgov_register_policies(self, register: Callable[[object], None]) -> None:
            calls.append("plain")
            register(Policy("plain-policy"))

    class Crashy:
        @hookimpl
        def agentgov_register_policies(self, register: Callable[[object], None]) -> None:
            calls.append("crashy")
            raise RuntimeError("boom")

    agentgov_plugins.add(Audit(), "audit")
    agentgov_plugins.add(Plain(), "plain")
    agentgov_plugins.add(Crashy(), "crashy")
    found = agentgov_plugins.collect(POLICIES)
    assert calls == ["audit: before", "crashy", "plain", "audit: after, result []"]
    assert (found["plain-policy"].plugin, found["audit-registered-last"].plugin) == ("plain", "audit")
    assert [str(p) for p in agentgov_plugins.problems] == ["plugin 'crashy', hook agentgov_register_policies: raised RuntimeError: boom"]


def test_a_wrapper_can_adjust_the_result_and_what_it_adds_is_credited_to_it(agentgov_plugins: PluginManager) -> None:
    class Allow:
        @hookimpl
        def agentgov_mask_patterns(self) -> dict[str, str]:
            return {"ticket": r"TICKET-\d+"}

    class Other:
        @hookimpl
        def agentgov_mask_patterns(self) -> dict[str, str]:
            return {"badge": r"BADGE-\d+"}

    class Curator:
        """Drops every other plugin's ``badge`` pattern and adds one of its own, which is invalid."""

        @hookimpl(wrapper=True)
        def agentgov_mask_patterns(self):  # type: ignore[no-untyped-def]
            results = yield
            return [r for r in results if "badge" not in r] + [{"broken": "("}]

    agentgov_plugins.add(Allow(), "allow")
    agentgov_plugins.add(Other(), "other")
    agentgov_plugins.add(Curator(), "curator")
    found = agentgov_plugins.mask_patterns()
    assert found == [("allow", "ticket", r"TICKET-\d+")]
    [problem] = agentgov_plugins.problems
    assert str(problem).startswith("plugin 'curator', hook agentgov_mask_patterns: mask pattern 'broken': invalid regular expression")


def test_an_old_style_hookwrapper_gets_the_outcome(agentgov_plugins: PluginManager) -> None:
    seen: list[object] = []

    class Timing:
        @hookimpl(hookwrapper=True)
        def agentgov_on_event(self, event: Event):  # type: ignore[no-untyped-def]
            outcome = yield
            seen.append(outcome.get_result())

    recorder = Recorder()
    agentgov_plugins.add(Timing(), "timing")
    agentgov_plugins.add(recorder, "recorder")
    agentgov_plugins.emit(_event())
    assert len(recorder.events) == 1
    assert seen == [[]]
    assert agentgov_plugins.problems == []


def _raises_before(event: Event):  # type: ignore[no-untyped-def]
    raise ValueError("before")
    yield


def _raises_after(event: Event):  # type: ignore[no-untyped-def]
    yield
    raise ValueError("after")


def _yields_twice(event: Event):  # type: ignore[no-untyped-def]
    yield
    yield


def _never_yields(event: Event):  # type: ignore[no-untyped-def]
    if False:
        yield


@pytest.mark.parametrize(
    ("wrapper", "message"),
    [
        (_raises_before, "raised ValueError: before"),
        (_raises_after, "raised ValueError: after"),
        (_yields_twice, "wrapper has a second yield"),
        (_never_yields, "wrapper did not yield"),
    ],
)
def test_a_broken_wrapper_is_reported_and_the_others_still_run(
    agentgov_plugins: PluginManager, wrapper: Callable[..., object], message: str
) -> None:
    broken = types.SimpleNamespace(agentgov_on_event=hookimpl(wrapper=True)(wrapper))
    recorder = Recorder()
    agentgov_plugins.add(recorder, "recorder")
    agentgov_plugins.add(broken, "broken")
    agentgov_plugins.emit(_event())
    assert len(recorder.events) == 1
    assert [str(p) for p in agentgov_plugins.problems] == [f"plugin 'broken', hook agentgov_on_event: {message}"]


def test_a_plugin_that_calls_sys_exit_while_imported_is_a_problem_not_the_end_of_the_command(
    agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    fake_distribution("acme-exit", {"acme_exit": "import sys\nsys.exit(0)\n", "acme_exit_builtin": "raise SystemExit(3)\n"}, {"exits": "acme_exit"})
    fake_distribution("acme-governance", {"acme_policies": GOOD_POLICY}, {"acme": "acme_policies"})
    manager = load_plugins(load_config())
    manager.load_builtins(["acme_exit_builtin"])
    infos = {i.name: i for i in manager.plugins()}
    assert (infos["exits"].status, infos["acme-exit-builtin"].status, infos["acme"].status) == ("error", "error", "loaded")
    assert [str(p) for p in manager.problems] == [
        "plugin 'exits' (from acme-exit): failed to import acme_exit: it called sys.exit(0) while being imported",
        "plugin 'acme-exit-builtin': failed to import: it called sys.exit(3) while being imported",
    ]
    assert "no-fridays" in manager.collect(POLICIES)


def test_a_hook_that_calls_sys_exit_is_reported_and_the_others_still_run(agentgov_plugins: PluginManager) -> None:
    class Exits:
        @hookimpl
        def agentgov_register_policies(self, register: Callable[[object], None]) -> None:
            raise SystemExit(0)

        @hookimpl
        def agentgov_on_event(self, event: Event) -> None:
            raise SystemExit("bye")

    recorder = Recorder()
    agentgov_plugins.add(recorder, "recorder")
    agentgov_plugins.add(Exits(), "exits")
    assert "change-freeze" in agentgov_plugins.collect(POLICIES)
    agentgov_plugins.emit(_event())
    assert len(recorder.events) == 1
    assert [str(p) for p in agentgov_plugins.problems] == [
        "plugin 'exits', hook agentgov_register_policies: called sys.exit(0)",
        "plugin 'exits', hook agentgov_on_event: called sys.exit('bye')",
    ]


def test_keyboard_interrupt_still_stops_a_plugin_import(agentgov_home: Home, fake_distribution: Callable[..., Path]) -> None:
    fake_distribution("acme-ctrl-c", {"acme_ctrl_c": "raise KeyboardInterrupt\n"}, {"ctrl-c": "acme_ctrl_c"})
    with pytest.raises(KeyboardInterrupt):
        load_plugins(load_config())
