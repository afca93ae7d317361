"""The plugin manager: built-in plugins, installed plugins, allow and block lists.

Built-in behaviour is written as plugins listed in :data:`DEFAULT_PLUGINS`.
Installed plugins come from the ``agentgov`` entry-point group. A plugin that
fails to import, implements a hook agentgov does not know, or hands back the
wrong thing is recorded as a :class:`PluginProblem` naming it and its
distribution; the other plugins keep working.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from agentgov.core import hookspecs
from agentgov.core.config import Config
from agentgov.core.types import is_slug

T = TypeVar("T")

ENTRY_POINT_GROUP = "agentgov"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "agentgov.plugins.events.log_events",
    "agentgov.plugins.policies.data_validation_passed",
    "agentgov.plugins.policies.lineage_complete",
    "agentgov.plugins.policies.eval_thresholds",
    "agentgov.plugins.policies.drift_within_limits",
    "agentgov.plugins.policies.shadow_agreement",
    "agentgov.plugins.policies.human_approval",
    "agentgov.plugins.policies.connector_least_privilege",
    "agentgov.plugins.policies.change_freeze",
    "agentgov.plugins.policies.cost_budget",
    "agentgov.plugins.policies.latency_slo",
    "agentgov.plugins.evaluators.evidently_drift",
)

log = logging.getLogger("agentgov.plugins")
trace_log = logging.getLogger("agentgov.plugins.trace")


@dataclass(frozen=True)
class Kind(Generic[T]):
    """A kind of thing plugins register, such as policies.

    Each engine defines its kind next to the protocol its plugins implement;
    ``check`` returns what is wrong with a registered item, or ``None``.
    """

    name: str
    hook: str
    check: Callable[[Any], str | None]


def check_named(item: Any, *, methods: tuple[str, ...]) -> str | None:
    """What is wrong with a registered item lacking a name, description or methods."""
    missing = [a for a in ("name", "description", *methods) if not hasattr(item, a)]
    if missing:
        return f"it has no {', '.join(missing)}"
    if not isinstance(item.name, str) or not is_slug(item.name):
        return f"name {item.name!r} must be lowercase letters, digits and '-'"
    if not isinstance(item.description, str):
        return "description must be a string"
    not_callable = [m for m in methods if not callable(getattr(item, m))]
    if not_callable:
        return f"{', '.join(not_callable)} must be callable"
    return None


@dataclass(frozen=True)
class Registered(Generic[T]):
    """A registered item and the plugin it came from."""

    item: T
    plugin: str


@dataclass(frozen=True)
class PluginProblem:
    plugin: str
    message: str
    distribution: str | None = None
    hook: str | None = None

    def __str__(self) -> str:
        where = f"plugin {self.plugin!r}"
        if self.distribution:
            where += f" (from {self.distribution})"
        if self.hook:
            where += f", hook {self.hook}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class PluginInfo:
    """What ``agentgov plugins list`` shows for one plugin."""

    name: str
    source: str  # "built-in" or "entry point"
    status: str  # "loaded", "error" or "blocked"
    module: str | None = None
    distribution: str | None = None
    version: str | None = None
    hooks: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "status": self.status,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": list(self.hooks),
            "problems": list(self.problems),
        }


@dataclass
class _Entry:
    name: str
    source: str
    module: str | None = None
    distribution: str | None = None
    version: str | None = None
    plugin: object | None = None
    status: str = "loaded"
    problems: list[str] = field(default_factory=list)


class _Pluggy(pluggy.PluginManager):
    """Treats every ``agentgov_*`` function as a hook implementation, marked or not.

    As pytest does for ``pytest_*``: a misspelt, unmarked hook is then caught
    by ``check_pending`` instead of being silently ignored.
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(f"{hookspecs.PROJECT}_"):
            attribute = inspect.getattr_static(plugin, name, None)
            if inspect.isfunction(attribute) or isinstance(attribute, (staticmethod, classmethod)):
                return pluggy.HookimplOpts(
                    wrapper=False, hookwrapper=False, optionalhook=False,
                    tryfirst=False, trylast=False, specname=None,
                )
        return opts


class PluginManager:
    """agentgov's view of pluggy: loading, listing, collecting and events."""

    def __init__(self, config: Config | None = None) -> None:
        self._pm = _Pluggy(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._entries: dict[str, _Entry] = {}
        self.problems: list[PluginProblem] = []
        self._block = set(config.plugins_block) if config else set()
        self._only = set(config.plugins_only) if config else set()
        self._trace = bool(config and config.trace_plugins)
        if self._trace:
            self._pm.trace.root.setwriter(lambda message: trace_log.debug(message.rstrip()))
            self._pm.enable_tracing()

    @property
    def hook(self) -> Any:
        return self._pm.hook

    # -- loading ------------------------------------------------------------

    def load_builtins(self, modules: Iterable[str] = DEFAULT_PLUGINS) -> None:
        for module_name in modules:
            entry = _Entry(name=builtin_name(module_name), source="built-in", module=module_name)
            if self._blocked(entry.name, module_name):
                entry.status = "blocked"
                self._entries[entry.name] = entry
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # a broken built-in must not hide the others
                self._fail(entry, f"failed to import: {type(exc).__name__}: {exc}")
                continue
            self._add(entry, module)

    def load_entrypoints(self) -> None:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            entry = _Entry(
                name=ep.name,
                source="entry point",
                module=ep.module,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )
            if self._blocked(ep.name, entry.distribution) or (
                self._only and not ({ep.name, entry.distribution} & self._only)
            ):
                entry.status = "blocked"
                self._entries[ep.name] = entry
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a third-party bug must not take the others down
                self._fail(entry, f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
                continue
            self._add(entry, plugin)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object directly (tests, embedding). Returns its name.

        Raises :class:`~agentgov.core.errors.PluginError` if it implements a
        hook agentgov does not know or with arguments the spec lacks.
        """
        from agentgov.core.errors import PluginError

        name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin):x}"
        entry = _Entry(name=name, source="registered", module=getattr(plugin, "__module__", None))
        self._add(entry, plugin)
        if entry.status != "loaded":
            raise PluginError(str(self.problems[-1]))
        return name

    def unregister(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None and entry.plugin is not None and self._pm.is_registered(entry.plugin):
            self._pm.unregister(entry.plugin)

    def _add(self, entry: _Entry, plugin: object) -> None:
        try:
            self._pm.register(plugin, name=entry.name)
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self._fail(entry, _explain_validation_error(exc))
            return
        except ValueError:  # pluggy refuses a name or an object registered twice
            self._fail(entry, "a plugin with this name, or this same plugin object, is already registered")
            return
        entry.plugin = plugin
        self._entries[entry.name] = entry

    def _fail(self, entry: _Entry, message: str, hook: str | None = None) -> None:
        entry.status = "error"
        entry.problems.append(message if hook is None else f"{hook}: {message}")
        self._entries[entry.name] = entry
        problem = PluginProblem(entry.name, message, entry.distribution, hook)
        self.problems.append(problem)
        log.warning("%s", problem)

    def _blocked(self, *names: str | None) -> bool:
        return any(n in self._block for n in names if n)

    # -- reading ------------------------------------------------------------

    def plugins(self) -> list[PluginInfo]:
        infos = []
        for entry in self._entries.values():
            hooks: tuple[str, ...] = ()
            if entry.plugin is not None and self._pm.is_registered(entry.plugin):
                hooks = tuple(sorted(h.name for h in self._pm.get_hookcallers(entry.plugin) or ()))
            infos.append(
                PluginInfo(
                    name=entry.name,
                    source=entry.source,
                    status=entry.status,
                    module=entry.module,
                    distribution=entry.distribution,
                    version=entry.version,
                    hooks=hooks,
                    problems=tuple(entry.problems),
                )
            )
        return infos

    # -- calling ------------------------------------------------------------

    def _implementations(self, hook_name: str) -> Iterator[tuple[str, Callable[..., Any], list[str]]]:
        caller = getattr(self._pm.hook, hook_name)
        # pluggy calls the last of get_hookimpls() first; keep its order.
        for impl in reversed(caller.get_hookimpls()):
            yield impl.plugin_name, impl.function, impl.argnames

    def _call(self, hook_name: str, plugin: str, function: Callable[..., Any], argnames: list[str], kwargs: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return function(*(kwargs[a] for a in argnames))
        finally:
            if self._trace:
                trace_log.debug("%s -> %s (%.2f ms)", hook_name, plugin, (time.perf_counter() - started) * 1000)

    def collect(self, kind: Kind[T]) -> dict[str, Registered[T]]:
        """Call ``kind.hook`` on every plugin and return what they registered, by name.

        Wrong types, duplicate names, hooks that raise and hooks that return a
        value instead of calling ``register`` become problems naming the
        plugin; the items that are right are still returned.
        """
        found: dict[str, Registered[T]] = {}
        for plugin, function, argnames in self._implementations(kind.hook):

            def register(item: Any, _plugin: str = plugin) -> None:
                problem = kind.check(item)
                if problem is not None:
                    self._problem(_plugin, kind.hook, f"registered {_describe(item)}, which is not a {kind.name}: {problem}")
                    return
                name = item.name
                if name in found:
                    other = found[name].plugin
                    self._problem(_plugin, kind.hook, f"{kind.name} name {name!r} is already registered by plugin {other!r}")
                    return
                found[name] = Registered(item, _plugin)

            try:
                returned = self._call(kind.hook, plugin, function, argnames, {"register": register})
            except Exception as exc:
                self._problem(plugin, kind.hook, f"raised {type(exc).__name__}: {exc}")
                continue
            if returned is not None:
                self._problem(plugin, kind.hook, f"returned {_describe(returned)}; call register(...) for each {kind.name} instead")
        return found

    def emit(self, event: Any) -> None:
        """Deliver a lifecycle event to every plugin; one that raises is logged, not fatal."""
        for plugin, function, argnames in self._implementations("agentgov_on_event"):
            try:
                self._call("agentgov_on_event", plugin, function, argnames, {"event": event})
            except Exception as exc:
                self._problem(plugin, "agentgov_on_event", f"raised {type(exc).__name__}: {exc}")

    def mask_patterns(self, *, taken: Collection[str] = ()) -> list[tuple[str, str, str]]:
        """``(plugin, name, regex)`` from every ``agentgov_mask_patterns``; bad ones become problems."""
        found: list[tuple[str, str, str]] = []
        names = set(taken)
        hook = "agentgov_mask_patterns"
        for plugin, function, argnames in self._implementations(hook):
            try:
                returned = self._call(hook, plugin, function, argnames, {})
            except Exception as exc:
                self._problem(plugin, hook, f"raised {type(exc).__name__}: {exc}")
                continue
            pairs = returned.items() if isinstance(returned, Mapping) else returned
            if returned is None or isinstance(returned, str) or not isinstance(pairs, Iterable):
                self._problem(plugin, hook, f"returned {_describe(returned)}; return {{name: regex}} or [(name, regex), ...]")
                continue
            for pair in pairs:
                if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                    self._problem(plugin, hook, f"returned {_describe(pair)}, which is not a (name, regex) pair of strings")
                    continue
                name, regex = pair
                if name in names:
                    self._problem(plugin, hook, f"mask pattern name {name!r} is already taken")
                    continue
                try:
                    if re.compile(regex).match(""):
                        raise re.error("it matches the empty string")
                except re.error as exc:
                    self._problem(plugin, hook, f"mask pattern {name!r}: invalid regular expression {regex!r}: {exc}")
                    continue
                names.add(name)
                found.append((plugin, name, regex))
        return found

    def _problem(self, plugin: str, hook: str, message: str) -> None:
        entry = self._entries.get(plugin)
        problem = PluginProblem(plugin, message, entry.distribution if entry else None, hook)
        if entry is not None:
            entry.problems.append(f"{hook}: {message}")
        self.problems.append(problem)
        log.warning("%s", problem)


def builtin_name(module_name: str) -> str:
    """``agentgov.plugins.events.log_events`` is listed, and blocked, as ``log-events``."""
    return module_name.rpartition(".")[2].replace("_", "-")


def load_plugins(config: Config, *, entrypoints: bool = True) -> PluginManager:
    """The plugin manager a command uses: built-ins, then installed plugins."""
    manager = PluginManager(config)
    manager.load_builtins()
    if entrypoints:
        manager.load_entrypoints()
    return manager


def _explain_validation_error(exc: pluggy.PluginValidationError) -> str:
    message = str(exc)
    if "unknown hook" in message:
        hook = message.split("unknown hook", 1)[1].split(" in plugin", 1)[0].strip(" '\"")
        known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_")))
        return f"implements unknown hook {hook!r} (known hooks: {known})"
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
