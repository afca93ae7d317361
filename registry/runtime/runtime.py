"""One agent version's tools and connectors, as the manifest declares them.

An :class:`AgentRuntime` is built once per loaded version; each request gets
a :class:`~agentgov.registry.runtime.ToolContext` from :meth:`AgentRuntime.context`.
The runtime owns what outlives a request: the compiled argument schemas, the
open connections and the count of abandoned calls; rate-limit buckets are
shared by the whole process (:mod:`.limits`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.masking import DEFAULT_MASKER, Masker
from agentgov.registry.runtime.errors import ToolFailed, ToolRefused, ToolTimeout
from agentgov.registry.runtime.limits import (
    DEFAULT_TIMEOUT_S,
    MAX_ABANDONED,
    CallTimedOut,
    TokenBucket,
    run_with_timeout,
    shared_bucket,
)
from agentgov.registry.runtime.protocol import CONNECTORS, Connection, ConnectorKind, ConnectorSettings

if TYPE_CHECKING:
    from agentgov.registry.manifest import Manifest
    from agentgov.registry.runtime.context import ToolContext
    from agentgov.registry.runtime.modes import Mode
    from agentgov.registry.runtime.trace import Trace

ENV_SUFFIX = "_env"


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    kind: str
    scopes: tuple[str, ...]
    rate_limit: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    def grants(self, scope: str) -> bool:
        return any(fnmatchcase(scope, granted) for granted in self.scopes)


@dataclass(frozen=True)
class ToolSpec:
    connector: str
    action: str
    scope: str | None
    schema: Mapping[str, Any] | None  # None: not packaged with this version
    side_effects: bool = True
    stub: Any = None
    timeout_s: float | None = None

    @property
    def name(self) -> str:
        return f"{self.connector}.{self.action}"


class _ConnectorState:
    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.abandoned = 0
        self.lock = threading.Lock()


class AgentRuntime:
    """The governed tools of one agent version.

    ``kinds`` maps a connector ``kind:`` to its :class:`ConnectorKind`; by
    default the kinds plugins register (``agentgov_register_connectors``),
    collected on the first call that executes. ``environ`` is where ``*_env``
    config keys are read (default ``os.environ``, read when a connector first
    connects).
    """

    def __init__(
        self,
        agent: str,
        connectors: Sequence[ConnectorSpec],
        tools: Sequence[ToolSpec],
        *,
        version: int | None = None,
        kinds: Mapping[str, ConnectorKind] | Callable[[], Mapping[str, ConnectorKind]] | None = None,
        masker: Masker | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.agent = agent
        self.version = version
        self.connectors = {c.name: c for c in connectors}
        self.tools = {t.name: t for t in tools}
        # The audit masker's patterns (built-in, configured, plugins'), without its safe field names: those name
        # an audit record's own fields ("subject", "name"), while a tool's argument of that name is the agent's data.
        self.masker = Masker((masker or DEFAULT_MASKER).patterns, safe_fields=())
        self._kinds = kinds if kinds is not None else plugin_connector_kinds
        self._environ = environ
        self._states = {name: _ConnectorState() for name in self.connectors}
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest | Mapping[str, Any],
        schemas: Mapping[str, Any] | None = None,
        *,
        schema_dir: Path | None = None,
        version: int | None = None,
        **options: Any,
    ) -> AgentRuntime:
        """The runtime of a manifest; each tool's schema from ``schemas`` (by ``connector.action``) or ``schema_dir``.

        A tool whose schema is in neither is kept, and refused when called.
        """
        from agentgov.registry.manifest import Manifest

        if not isinstance(manifest, Manifest):
            manifest = Manifest.model_validate(dict(manifest))
        schemas = dict(schemas or {})
        tools = []
        for tool in manifest.tools:
            name = f"{tool.connector}.{tool.action}"
            schema = schemas.get(name)
            if schema is None and schema_dir is not None and (Path(schema_dir) / tool.schema_).is_file():
                schema = json.loads((Path(schema_dir) / tool.schema_).read_text(encoding="utf-8"))
            tools.append(
                ToolSpec(tool.connector, tool.action, tool.scope, schema, tool.side_effects, tool.stub, tool.timeout_s)
            )
        connectors = [
            ConnectorSpec(c.name, c.kind, tuple(c.scopes), c.rate_limit, dict(c.config)) for c in manifest.connectors
        ]
        return cls(manifest.name, connectors, tools, version=version, **options)

    def context(
        self,
        mode: Mode | str = "live",
        *,
        trace_id: str | None = None,
        paired: Trace | None = None,
        read_only: str = "execute",
    ) -> ToolContext:
        """A fresh context for one request: what ``act(request, ctx)`` receives."""
        from agentgov.registry.runtime.context import ToolContext

        return ToolContext(self, mode, trace_id=trace_id, paired=paired, read_only=read_only)

    # -- the checks, in the order a call meets them --------------------------

    def tool(self, name: str) -> ToolSpec:
        if not isinstance(name, str):
            raise ToolRefused(repr(name), "a tool is named by a string 'connector.action'")
        spec = self.tools.get(name)
        if spec is not None:
            return spec
        connector, _, action = name.partition(".")
        if connector not in self.connectors:
            declared = ", ".join(sorted(self.connectors)) or "none"
            raise ToolRefused(name, f"connector {connector!r} is not declared in the manifest (declared: {declared})")
        raise ToolRefused(name, f"the manifest declares no tool {action!r} for connector {connector!r}")

    def check_scope(self, spec: ToolSpec) -> None:
        connector = self.connectors[spec.connector]
        if spec.scope is None:
            raise ToolRefused(
                spec.name, "the tool declares no scope, so none can be granted; add scope: to it in the manifest"
            )
        if not connector.grants(spec.scope):
            raise ToolRefused(
                spec.name,
                f"scope {spec.scope!r} is not granted to connector {connector.name!r} (granted: {', '.join(connector.scopes) or 'none'})",
            )

    def check_args(self, spec: ToolSpec, args: Any) -> dict[str, Any]:
        """A plain JSON copy of ``args`` once they match the tool's schema."""
        if not isinstance(args, Mapping):
            raise ToolRefused(spec.name, f"arguments must be an object of named values, got {type(args).__name__}")
        try:
            plain = json.loads(json.dumps(dict(args)))
        except (TypeError, ValueError) as exc:
            raise ToolRefused(spec.name, f"arguments must be JSON values: {exc}") from None
        validator = self._validator(spec)
        if validator.is_valid(plain):
            return plain
        from jsonschema.exceptions import best_match

        error = best_match(validator.iter_errors(plain))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
            raise ToolRefused(spec.name, f"arguments do not match its schema at {where}: {error.message}")
        return plain

    def _validator(self, spec: ToolSpec) -> Any:
        with self._lock:
            found = self._validators.get(spec.name)
        if found is not None:
            return found
        if spec.schema is None:
            raise ToolRefused(
                spec.name, "its argument schema was not packaged with this version; register the agent again"
            )
        from jsonschema import validators
        from jsonschema.exceptions import SchemaError

        cls = validators.validator_for(spec.schema)
        try:
            cls.check_schema(spec.schema)
        except SchemaError as exc:
            raise ToolRefused(spec.name, f"its argument schema is not a valid JSON Schema: {exc.message}") from None
        validator = cls(spec.schema)
        with self._lock:
            self._validators[spec.name] = validator
        return validator

    # -- executing ---------------------------------------------------------------

    def execute(self, spec: ToolSpec, args: dict[str, Any], started: Callable[[], None]) -> Any:
        """Run the tool through its connector: connection, rate limit, then the call in a worker with a time limit.

        ``started`` is called just before the connector is; a result that is
        not JSON is a failure.
        """
        connector = self.connectors[spec.connector]
        state = self._states[connector.name]
        connection = self._connection(spec, connector, state)
        with state.lock:
            if state.abandoned >= MAX_ABANDONED:
                raise ToolRefused(
                    spec.name,
                    f"connector {connector.name!r} has {state.abandoned} calls still running past their time limit",
                )
        bucket = self._bucket(connector)
        if bucket is not None and not bucket.take():
            raise ToolRefused(spec.name, f"rate limit {connector.rate_limit} of connector {connector.name!r} exceeded")
        timeout = spec.timeout_s or DEFAULT_TIMEOUT_S

        def ended_late() -> None:
            with state.lock:
                state.abandoned -= 1

        started()
        try:
            result = run_with_timeout(lambda: connection.call(spec.action, args), timeout, ended_late)
        except CallTimedOut:
            with state.lock:
                state.abandoned += 1
            raise ToolTimeout(
                spec.name,
                f"no answer within {timeout:g} s; the call was abandoned (it may still complete on the connector)",
            ) from None
        except Exception as exc:
            raise ToolFailed(spec.name, f"{type(exc).__name__}: {exc}") from exc
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            raise ToolFailed(spec.name, f"the connector returned a value that is not JSON: {exc}") from None

    def _bucket(self, connector: ConnectorSpec) -> TokenBucket | None:
        return shared_bucket(self.agent, connector.name, connector.rate_limit) if connector.rate_limit else None

    def _connection(self, spec: ToolSpec, connector: ConnectorSpec, state: _ConnectorState) -> Connection:
        with state.lock:
            if state.connection is not None:
                return state.connection
            kinds = self._kinds() if callable(self._kinds) else self._kinds
            kind = kinds.get(connector.kind)
            if kind is None:
                known = ", ".join(sorted(kinds)) or "none"
                raise ToolRefused(
                    spec.name,
                    f"connector {connector.name!r} is of kind {connector.kind!r}, which no plugin provides (installed: {known})",
                )
            settings = ConnectorSettings(
                connector.name, connector.kind, connector.scopes, self._config(spec, connector), self.agent
            )
            try:
                state.connection = kind.connect(settings)
            except Exception as exc:
                raise ToolFailed(
                    spec.name, f"connector {connector.name!r} ({connector.kind}) cannot connect: {exc}"
                ) from None
            return state.connection

    def _config(self, spec: ToolSpec, connector: ConnectorSpec) -> dict[str, Any]:
        environ = os.environ if self._environ is None else self._environ
        config: dict[str, Any] = {}
        for key, value in connector.config.items():
            if key.endswith(ENV_SUFFIX) and len(key) > len(ENV_SUFFIX):
                if not isinstance(value, str) or value not in environ:
                    raise ToolFailed(
                        spec.name, f"connector {connector.name!r}: config {key} names ${value}, which is not set"
                    )
                config[key.removesuffix(ENV_SUFFIX)] = environ[value]
            else:
                config[key] = value
        return config

    def close(self) -> None:
        """Close the connections opened so far."""
        for state in self._states.values():
            with state.lock:
                connection, state.connection = state.connection, None
            if connection is not None and callable(getattr(connection, "close", None)):
                connection.close()


@cache
def _collected_kinds() -> Mapping[str, ConnectorKind]:
    from agentgov.core.config import load_config
    from agentgov.core.plugins import load_plugins

    return {name: registered.item for name, registered in load_plugins(load_config()).collect(CONNECTORS).items()}


def plugin_connector_kinds() -> Mapping[str, ConnectorKind]:
    """The connector kinds of the built-in and installed plugins, collected once per process."""
    return _collected_kinds()
