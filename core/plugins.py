"""The plugin manager: built-in plugins, installed plugins, allow and block lists.

Built-in behaviour is written as plugins listed in :data:`DEFAULT_PLUGINS`.
Installed plugins come from the ``agentgov`` entry-point group. A plugin that
fails to import, implements a hook agentgov does not know, or hands back the
wrong thing is recorded as a :class:`PluginProblem` naming it and its
distribution; the other plugins keep working.

Internal to agentgov: plugin authors import from :mod:`agentgov.core`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import time
from collections.abc import Callable, Collection, Generator, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from agentgov.core import hookspecs
from agentgov.core.config import Config
from agentgov.core.text import short_repr
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
    "agentgov.plugins.deploy.bentoml_local",
    "agentgov.plugins.deploy.kubernetes",
    "agentgov.plugins.connectors.http",
    "agentgov.plugins.connectors.sqlite",
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
            except (Exception, SystemExit) as exc:  # a broken built-in must not hide the others, nor end the command
                self._fail(entry, f"failed to import: {_import_error(exc)}")
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
            except (Exception, SystemExit) as exc:  # a third-party bug must not take the others down, nor end the command
                self._fail(entry, f"failed to import {ep.value}: {_import_error(exc)}")
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
        self._guard(plugin)
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
    #
    # Hooks are called through pluggy (``self._pm.hook.<name>(...)``), so its
    # order (tryfirst, trylast, the last registered first), its wrappers
    # (``wrapper=True`` and old-style ``hookwrapper=True``) and ``firstresult``
    # behave as pluggy documents. pluggy stops at the first exception; agentgov
    # promises more: a plugin that raises does not stop the others, and what
    # it gets wrong is reported naming it. So each implementation is wrapped
    # once, when its plugin is registered, in a guard that knows the plugin
    # (see ``_guard``); the guard also hands each plugin a ``register`` bound
    # to it and traces the call.

    def _call(self, call: _Call, **kwargs: Any) -> Any:
        token = _CALL.set(call)
        try:
            return getattr(self._pm.hook, call.hook)(**kwargs)
        finally:
            _CALL.reset(token)

    def collect(self, kind: Kind[T]) -> dict[str, Registered[T]]:
        """Call ``kind.hook`` on every plugin and return what they registered, by name.

        Wrong types, duplicate names, hooks that raise and hooks that return a
        value instead of calling ``register`` become problems naming the
        plugin; the items that are right are still returned.
        """
        found: dict[str, Registered[T]] = {}

        def accept(plugin: str, item: Any) -> None:
            problem = kind.check(item)
            if problem is not None:
                self._problem(plugin, kind.hook, f"registered {_describe(item)}, which is not a {kind.name}: {problem}")
                return
            name = item.name
            if name in found:
                other = found[name].plugin
                self._problem(plugin, kind.hook, f"{kind.name} name {name!r} is already registered by plugin {other!r}")
                return
            found[name] = Registered(item, plugin)

        def returned(plugin: str, value: Any) -> None:
            if value is not None:
                self._problem(plugin, kind.hook, f"returned {_describe(value)}; call register(...) for each {kind.name} instead")

        call = _Call(kind.hook, accept=accept, returned=returned)
        self._call(call, register=call.register_for("an unknown plugin"))
        return found

    def emit(self, event: Any) -> None:
        """Deliver a lifecycle event to every plugin; one that raises is logged, not fatal."""
        self._call(_Call("agentgov_on_event"), event=event)

    def mask_patterns(self, *, taken: Collection[str] = ()) -> list[tuple[str, str, str]]:
        """``(plugin, name, regex)`` from every ``agentgov_mask_patterns``; bad ones become problems.

        What the hook call returns is read after every wrapper has seen it, so
        a wrapper may add or drop patterns; each value is credited to the
        plugin that returned it, or to the wrapper that put it there.
        """
        hook = "agentgov_mask_patterns"
        owners: list[tuple[Any, str]] = []

        def owner(value: Any) -> str:
            return next((plugin for v, plugin in owners if v is value), "an unknown plugin")

        def returned(plugin: str, value: Any) -> Any:
            if value is None:
                self._problem(plugin, hook, "returned None; return {name: regex} or [(name, regex), ...]")
            else:
                owners.append((value, plugin))
            return value

        def changed(plugin: str, result: Any) -> None:
            if not isinstance(result, list):
                self._problem(plugin, hook, f"wrapper returned {_describe(result)}; return the list of results it was given, changed or not")
                return
            for value in result:
                if not any(v is value for v, _ in owners):
                    owners.append((value, plugin))

        results = self._call(_Call(hook, returned=returned, changed=changed))
        found: list[tuple[str, str, str]] = []
        names = set(taken)
        for returned_value in results if isinstance(results, list) else ():
            plugin = owner(returned_value)
            pairs = returned_value.items() if isinstance(returned_value, Mapping) else returned_value
            if isinstance(returned_value, str) or not isinstance(pairs, Iterable):
                self._problem(plugin, hook, f"returned {_describe(returned_value)}; return {{name: regex}} or [(name, regex), ...]")
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

    # -- guarding each implementation -----------------------------------------

    def _guard(self, plugin: object) -> None:
        """Wrap each of ``plugin``'s hook implementations, once, in a guard naming it."""
        for caller in self._pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    guard = self._guard_wrapper if impl.wrapper or impl.hookwrapper else self._guard_plain
                    impl.function = guard(caller.name, impl)  # type: ignore[misc]  # pluggy marks it Final

    def _guard_plain(self, hook: str, impl: pluggy.HookImpl) -> Callable[..., Any]:
        plugin, function, bind = impl.plugin_name, impl.function, _binder(impl)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            call = _current(hook)
            args, kwargs = bind(call, plugin, args, kwargs)
            started = time.perf_counter()
            try:
                value = function(*args, **kwargs)
            except (Exception, SystemExit) as exc:
                self._problem(plugin, hook, _raised(exc))
                return None
            finally:
                self._traced(hook, plugin, time.perf_counter() - started)
            return value if call is None else call.returned(plugin, value)

        return guarded

    def _guard_wrapper(self, hook: str, impl: pluggy.HookImpl) -> Callable[..., Any]:
        """A wrapper's guard is itself a generator: pluggy drives it, and it drives the plugin's.

        A wrapper that raises, does not yield or yields twice is reported and
        leaves the result as it found it; the implementations it wraps run
        regardless.
        """
        plugin, function, bind = impl.plugin_name, impl.function, _binder(impl)

        def guarded(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
            call = _current(hook)
            args, kwargs = bind(call, plugin, args, kwargs)
            spent = 0.0
            started = time.perf_counter()
            try:
                generator = function(*args, **kwargs)
                next(generator)
            except StopIteration:
                self._problem(plugin, hook, "wrapper did not yield")
                generator = None
            except (Exception, SystemExit) as exc:
                self._problem(plugin, hook, _raised(exc))
                generator = None
            spent += time.perf_counter() - started
            if generator is None:
                self._traced(hook, plugin, spent, "wrapper")
                return (yield)
            try:
                received = yield
            except BaseException:  # only pluggy's own errors and interrupts get here: the implementations are guarded
                generator.close()
                raise
            started = time.perf_counter()
            try:
                generator.send(received)
            except StopIteration as stop:
                if call is not None and stop.value is not received:
                    call.changed(plugin, stop.value)
                return stop.value
            except (Exception, SystemExit) as exc:
                self._problem(plugin, hook, _raised(exc))
                return received
            else:
                generator.close()
                self._problem(plugin, hook, "wrapper has a second yield")
                return received
            finally:
                self._traced(hook, plugin, spent + time.perf_counter() - started, "wrapper")

        return guarded

    def _traced(self, hook: str, plugin: str, seconds: float, what: str = "") -> None:
        if self._trace:
            trace_log.debug("%s -> %s (%s%.2f ms)", hook, plugin, f"{what}, " if what else "", seconds * 1000)

    def _problem(self, plugin: str, hook: str, message: str) -> None:
        entry = self._entries.get(plugin)
        problem = PluginProblem(plugin, message, entry.distribution if entry else None, hook)
        if entry is not None:
            entry.problems.append(f"{hook}: {message}")
        self.problems.append(problem)
        log.warning("%s", problem)


@dataclass
class _Call:
    """One hook call the manager makes: where registered items and return values go.

    ``accept(plugin, item)`` receives what each plugin passes to ``register``;
    ``returned(plugin, value)`` sees each plain implementation's return value
    and says what pluggy collects in its place; ``changed(plugin, result)``
    hears of a wrapper that replaced the result.
    """

    hook: str
    accept: Callable[[str, Any], None] | None = None
    returned: Callable[[str, Any], Any] = lambda plugin, value: value
    changed: Callable[[str, Any], None] = lambda plugin, result: None

    def register_for(self, plugin: str) -> Callable[[Any], None]:
        accept = self.accept
        if accept is None:
            raise TypeError(f"{self.hook} takes no register callback")

        def register(item: Any) -> None:
            accept(plugin, item)

        return register


_CALL: ContextVar[_Call | None] = ContextVar("agentgov_hook_call", default=None)


def _current(hook: str) -> _Call | None:
    """The manager's call of ``hook`` in progress, or ``None`` (someone called pluggy directly)."""
    call = _CALL.get()
    return call if call is not None and call.hook == hook else None


Binder = Callable[[_Call | None, str, tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


def _binder(impl: pluggy.HookImpl) -> Binder:
    """Replaces the shared ``register`` argument with one that credits ``impl``'s plugin."""
    position = impl.argnames.index("register") if "register" in impl.argnames else None

    def bind(call: _Call | None, plugin: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if call is None or call.accept is None:
            return args, kwargs
        if position is not None:
            return (*args[:position], call.register_for(plugin), *args[position + 1 :]), kwargs
        if "register" in kwargs:
            return args, {**kwargs, "register": call.register_for(plugin)}
        return args, kwargs

    return bind


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


def _raised(exc: BaseException) -> str:
    """What a hook did wrong: ``raised KeyError: 'x'``, or ``called sys.exit(0)`` (which must not end the command)."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})" if exc.code is not None else "called sys.exit()"
    return f"raised {type(exc).__name__}: {exc}"


def _import_error(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it {_raised(exc)} while being imported"
    return f"{type(exc).__name__}: {exc}"


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {short_repr(value)}"
