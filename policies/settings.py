"""Which policies guard a stage, read from ``[stages.<stage>]`` in ``agentgov.toml``::

    [stages.production]
    timeout_s = 30                       # per policy, default 30
    isolation = "thread"                 # thread (default) | process: the stage's default

    [stages.production.policies.human-approval]
    mode = "enforce"                     # enforce | warn | dry-run | off
    approvals_by_tier = { low = 1, medium = 1, high = 2 }

    [stages.production.policies.eval-thresholds]
    required = false                     # advisory: the same as mode = "warn"
    min_samples = 200

    [stages.production.policies.acme-owners]
    isolation = "process"                # run this policy in a process of its own

Every other key of a policy's table is a parameter handed to the policy.

``isolation = "thread"`` runs the policy in a thread of the gate's process
(cheap; an answer after the time limit is an error, but a policy holding the
interpreter cannot be stopped before it lets go). ``"process"`` runs it in a
forked process that is killed at the time limit; only its verdict comes back,
as JSON, so nothing it does can reach the gate: for plugins you do not trust.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentgov.core.config import Config, locate
from agentgov.core.errors import ConfigError, InvalidValue
from agentgov.core.plugins import Registered
from agentgov.core.types import PolicyMode, Stage, stages
from agentgov.policies.protocol import Policy, enabled_by_default, parameters_of

DEFAULT_TIMEOUT_S = 30.0
OFF = "off"
THREAD, PROCESS = "thread", "process"
ISOLATIONS = (THREAD, PROCESS)
_RESERVED = ("mode", "required", "timeout_s", "isolation")


@dataclass(frozen=True)
class ConfiguredPolicy:
    """One policy as it runs for one stage."""

    name: str
    mode: PolicyMode
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    configured: bool = True  # False: enabled by its plugin's default, not by agentgov.toml
    isolation: str = THREAD  # or PROCESS

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise InvalidValue(f"policy {self.name!r}: unknown isolation {self.isolation!r}: expected thread or process")


def stage_policies(config: Config, target: Stage, available: Mapping[str, Registered[Policy]]) -> list[ConfiguredPolicy]:
    """The policies that run when a version enters ``target``, in a stable order.

    Configured policies first, in the order of the file, then policies their
    plugins enable by default. A configured name no plugin provides is kept:
    the gate reports it as ``error`` (fail closed), never silently skips it.
    """
    table = dict(config.stages.get(target, {}))
    where = lambda key=None: locate(config, f"stages.{target.value}", key)  # noqa: E731
    unknown = set(table) - {"timeout_s", "isolation", "policies"}
    if unknown:
        raise ConfigError(
            f"{where(sorted(unknown)[0])}: unknown setting '{sorted(unknown)[0]}' in [stages.{target.value}] (known: timeout_s, isolation, policies)"
        )
    default_timeout = _timeout(table.get("timeout_s", DEFAULT_TIMEOUT_S), where("timeout_s"))
    default_isolation = _isolation(table.get("isolation", THREAD), where("isolation"))
    policies = table.get("policies", {})
    if not isinstance(policies, dict):
        raise ConfigError(f"{where('policies')}: [stages.{target.value}.policies] must be a table of policy tables")

    found: list[ConfiguredPolicy] = []
    switched_off: set[str] = set()
    for name, settings in policies.items():
        section = f"stages.{target.value}.policies.{name}"
        if not isinstance(settings, dict):
            raise ConfigError(f"{locate(config, section)}: [{section}] must be a table (use {{}} for no parameters)")
        mode = _mode(settings, lambda key, s=section: locate(config, s, key))
        if mode is None:
            switched_off.add(name)
            continue
        registered = available.get(name)
        if registered is not None and target not in stages(registered.item.stages):
            guards = ", ".join(sorted(s.value for s in stages(registered.item.stages)))
            raise ConfigError(f"{locate(config, section)}: policy {name!r} does not guard {target.value} (it guards: {guards})")
        params = {k: v for k, v in settings.items() if k not in _RESERVED}
        if registered is not None:
            known = parameters_of(registered.item)
            unknown_params = sorted(set(params) - set(known))
            if unknown_params:
                listing = ", ".join(known) or "none"
                raise ConfigError(
                    f"{locate(config, section, unknown_params[0])}: policy {name!r} has no parameter {unknown_params[0]!r} (it takes: {listing})"
                )
        timeout = _timeout(settings.get("timeout_s", default_timeout), locate(config, section, "timeout_s"))
        isolation = _isolation(settings.get("isolation", default_isolation), locate(config, section, "isolation"))
        found.append(ConfiguredPolicy(name, mode, params, timeout, isolation=isolation))

    named = {p.name for p in found} | switched_off
    for name, registered in sorted(available.items()):
        if name not in named and enabled_by_default(registered.item) and target in stages(registered.item.stages):
            found.append(ConfiguredPolicy(name, PolicyMode.ENFORCE, {}, default_timeout, configured=False, isolation=default_isolation))
    return found


def _mode(settings: Mapping[str, Any], where: Any) -> PolicyMode | None:
    mode = settings.get("mode")
    required = settings.get("required")
    if required is not None and not isinstance(required, bool):
        raise ConfigError(f"{where('required')}: 'required' must be true or false, got {required!r}")
    if mode is None:
        return PolicyMode.WARN if required is False else PolicyMode.ENFORCE
    if mode == OFF:
        return None
    try:
        parsed = PolicyMode.parse(mode)
    except InvalidValue:
        raise ConfigError(f"{where('mode')}: unknown mode {mode!r}: expected enforce, warn, dry-run or off") from None
    if required is not None and required != (parsed is PolicyMode.ENFORCE):
        raise ConfigError(f"{where('required')}: 'required = {str(required).lower()}' contradicts mode = {mode!r}; keep one of them")
    return parsed


def _timeout(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: timeout_s must be a positive number of seconds, got {value!r}")
    return float(value)


def _isolation(value: Any, where: str) -> str:
    if value not in ISOLATIONS:
        raise ConfigError(f"{where}: isolation must be \"thread\" or \"process\", got {value!r}")
    return str(value)
