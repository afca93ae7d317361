"""Every hook agentgov calls. The one place a plugin author needs to read.

A plugin is a module or an object with functions named after these specs and
marked with :data:`hookimpl`. Read this module, but import from
:mod:`agentgov.core` (``hookimpl``, ``Register``), the public API::

    from agentgov.core import Register, hookimpl

    @hookimpl
    def agentgov_register_policies(register: Register) -> None:
        register(NoFridayDeploys())

Hooks that register things pass a ``register`` callback rather than collecting
return values, so agentgov owns naming, collisions and type checks, and can
name the plugin when something it registers is wrong; a hook that returns a
value instead of calling ``register`` is reported as an error naming the
plugin.

Hooks are called through pluggy, so its options mean what pluggy documents:
``tryfirst``/``trylast`` order the calls (otherwise the plugin registered last
is called first), and ``wrapper=True`` (or old-style ``hookwrapper=True``)
wraps the other implementations and may change the result. Unlike plain
pluggy, an implementation or wrapper that raises does not stop the others: it
is reported as a problem naming its plugin and the hook, and the call goes on
without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from agentgov.core.types import Event

PROJECT = "agentgov"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[Any], None]


# -- Registration: called once when the plugin manager collects a kind. --------


@hookspec
def agentgov_register_policies(register: Register) -> None:
    """Register governance policies by calling ``register(policy)``.

    A policy satisfies :class:`agentgov.policies.Policy`: a unique ``name``,
    a ``description``, the ``stages`` it guards and ``evaluate(context)``
    returning a :class:`agentgov.core.PolicyResult`. Names are unique across
    all plugins; a second policy with a taken name is rejected with both
    plugins named.
    """


@hookspec
def agentgov_register_evaluators(register: Register) -> None:
    """Register drift and quality evaluators by calling ``register(evaluator)``.

    An evaluator satisfies :class:`agentgov.evals.Evaluator`. An evaluator
    that raises while evaluating yields a result with status ``error``, which
    the gate treats as a block.
    """


@hookspec
def agentgov_register_deploy_targets(register: Register) -> None:
    """Register places agents can be deployed to by calling ``register(target)``.

    A target satisfies :class:`agentgov.deploy.DeployTarget`: a unique
    ``name``, a ``description``, ``build(release, home)`` returning the
    ``Artifact`` it deploys, ``deploy(request)`` returning a ``Deployment``
    and ``undeploy(request)`` returning one or ``None``. Names are unique
    across all plugins; ``agentgov deploy --target NAME`` picks one.
    """


@hookspec
def agentgov_register_connectors(register: Register) -> None:
    """Register connector kinds (``http``, ``sqlite``, ``zendesk``...) by calling ``register(kind)``.

    A kind satisfies :class:`agentgov.registry.runtime.ConnectorKind`: a
    unique ``name`` (what a manifest connector's ``kind:`` names), a
    ``description`` and ``connect(settings)`` returning a connection whose
    ``call(action, args)`` executes one tool call. Names are unique across all
    plugins. Collected when an agent first executes a tool; a connector whose
    kind no plugin provides is refused at call time, naming the kind.
    """


# -- Lifecycle events: called after the event is in the audit log. ------------


@hookspec
def agentgov_on_event(event: Event) -> None:
    """Receive a lifecycle event: registered, promoted, blocked, rolled back,
    approved or a rollout step.

    Called for every plugin, after the event has been written to the audit
    log, so a plugin can neither hide nor veto it. A plugin that raises is
    logged with its name and does not stop the others; return values are
    ignored.
    """


# -- Masking: called once when a command builds its audit log's masker. -------


@hookspec
def agentgov_mask_patterns() -> dict[str, str] | list[tuple[str, str]]:
    """Return extra patterns for masking audit payloads: ``{name: regex}`` or ``[(name, regex), ...]``.

    Every plugin's patterns are added to the built-in ones and those of
    ``[masking] patterns``; a match (or its ``(?P<secret>...)`` group) is
    written as ``[name]``. A name already taken by a built-in, configured or
    other plugin's pattern, an invalid regex or a wrong return type is
    reported as a problem naming the plugin, and that pattern is skipped.
    """
