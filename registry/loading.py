"""Loading a registered agent to run it: ``load_agent("support-router@production")``."""

from __future__ import annotations

import contextlib
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.config import Config, load_config
from agentgov.core.errors import AgentgovError, InvalidValue
from agentgov.core.types import AgentRef
from agentgov.registry.backend import connect, quiet
from agentgov.registry.model import READY, AgentVersion
from agentgov.registry.runtime.packaged import MANIFEST_ARTIFACT
from agentgov.registry.store import get, mlflow_errors

if TYPE_CHECKING:
    from agentgov.registry.manifest import Manifest
    from agentgov.registry.runtime import AgentRuntime, Mode, Trace


@dataclass(frozen=True)
class LoadedAgent:
    """A registered agent version, ready to ``act``.

    ``act(request)`` answers a request. An agent whose ``act`` takes a second
    argument gets a :class:`~agentgov.registry.runtime.ToolContext` for each
    request, in ``mode`` (``live``, ``shadow`` or ``replay``), under
    ``trace_id``, answering from ``paired`` (the production trace a shadow
    call is paired with, or the trace a replay replays); ``act_traced`` also
    returns the :class:`~agentgov.registry.runtime.Trace` of its tool calls.
    ``runtime`` is built from the version's packaged manifest on first use
    unless given.
    """

    version: AgentVersion
    model: Any  # mlflow.pyfunc.PyFuncModel
    runtime: AgentRuntime | None = field(default=None, compare=False, repr=False)
    _built: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def act(
        self, request: dict[str, Any], *, mode: Mode | str = "live", trace_id: str | None = None,
        paired: Trace | None = None, read_only: str = "execute",
    ) -> dict[str, Any]:
        return self.act_traced(request, mode=mode, trace_id=trace_id, paired=paired, read_only=read_only)[0]

    def act_traced(
        self, request: dict[str, Any], *, mode: Mode | str = "live", trace_id: str | None = None,
        paired: Trace | None = None, read_only: str = "execute",
    ) -> tuple[dict[str, Any], Trace]:
        """The response and the trace of the tool calls made for it.

        When ``act`` raises, the exception carries the trace so far as
        ``agentgov_trace`` (a refused tool call the agent did not catch, say).
        """
        from agentgov.registry.runtime import Mode, Trace

        mode = Mode.parse(mode)
        trace_id = trace_id or uuid.uuid4().hex
        inner = self.model.unwrap_python_model()
        if not hasattr(inner, "act"):
            import pandas as pd

            response = self.model.predict(pd.DataFrame([request])).to_dict(orient="records")[0]
            return response, Trace(trace_id, self.version.name, self.version.version, mode.value)
        if not self._wants_context(inner):
            return inner.act(request), Trace(trace_id, self.version.name, self.version.version, mode.value)
        ctx = self.tool_runtime().context(mode, trace_id=trace_id, paired=paired, read_only=read_only)
        try:
            response = inner.act(request, ctx)
        except BaseException as exc:
            with contextlib.suppress(AttributeError, TypeError):
                exc.agentgov_trace = ctx.trace  # type: ignore[attr-defined]
            raise
        return response, ctx.trace

    def tool_runtime(self) -> AgentRuntime:
        """The runtime of this version's tools: given, or built once from the packaged manifest and schemas."""
        if self.runtime is not None:
            return self.runtime
        with _RUNTIME_LOCK:
            if "runtime" not in self._built:
                self._built["runtime"] = _runtime_of(self.version, _artifacts_of(self.model))
        return self._built["runtime"]

    def _wants_context(self, inner: Any) -> bool:
        found = self._built.get("wants_context")
        if found is None:
            from agentgov.registry.runtime import wants_context

            # agentgov's wrapper read the agent's signature at load (one registered before the runtime has no
            # such attribute and a one-argument act); an agent's own models-from-code file is read here.
            found = bool(inner.wants_context) if hasattr(inner, "wants_context") else wants_context(inner.act)
            self._built["wants_context"] = found
        return found


def load_agent(ref: str | AgentRef, config: Config | None = None) -> LoadedAgent:
    """Load ``name/3`` or ``name@production`` from the registry."""
    config = config or load_config()
    ref = AgentRef.parse(ref) if isinstance(ref, str) else ref
    client = connect(config)
    version = get(client, ref)
    with mlflow_errors(f"loading {ref}"), quiet(), _LOAD_LOCK:
        import mlflow

        local = mlflow.artifacts.download_artifacts(f"models:/{version.name}/{version.version}")
        _forget_agent_modules(Path(local))
        model = mlflow.pyfunc.load_model(local)
    return LoadedAgent(version, model)


def agent_from_model_dir(
    model_dir: str | Path,
    version: AgentVersion | Mapping[str, Any],
    manifest: Manifest | Mapping[str, Any] | str | Path | None = None,
    **runtime_options: Any,
) -> LoadedAgent:
    """A governed agent from a model folder downloaded earlier, with no registry access (inside a bento).

    ``version`` is the :class:`AgentVersion` it was downloaded as, or at
    least ``{"name": ..., "version": ...}``. ``manifest`` is the version's
    manifest (a ``Manifest``, its data, or the path of its ``agent.yaml``);
    by default the one packaged in the model folder. ``runtime_options`` go
    to :class:`~agentgov.registry.runtime.AgentRuntime` (``masker``,
    ``kinds``, ``environ``).
    """
    from agentgov.registry.runtime import AgentRuntime
    from agentgov.registry.runtime.packaged import read_manifest, read_schemas

    model_dir = Path(model_dir)
    if not isinstance(version, AgentVersion):
        version = _bare_version(version, model_dir)
    with mlflow_errors(f"loading {model_dir}"), quiet(), _LOAD_LOCK:
        import mlflow

        _forget_agent_modules(model_dir)
        model = mlflow.pyfunc.load_model(str(model_dir))
    artifacts = _artifacts_of(model)
    if manifest is None:
        packaged = artifacts.get(MANIFEST_ARTIFACT)
        manifest = read_manifest(Path(packaged)) if packaged else version.manifest
    elif isinstance(manifest, str | Path):
        manifest = read_manifest(Path(manifest))
    runtime = AgentRuntime.from_manifest(manifest, read_schemas(artifacts), version=version.version, **runtime_options)
    return LoadedAgent(version, model, runtime)


def _bare_version(info: Mapping[str, Any], model_dir: Path) -> AgentVersion:
    try:
        name, number = str(info["name"]), int(info["version"])
    except (KeyError, TypeError, ValueError):
        raise InvalidValue(f"version {info!r}: expected at least a name and a version number") from None
    return AgentVersion(
        name=name, version=number, stage=None, status=str(info.get("status", READY)), aliases=tuple(info.get("aliases", ())),
        source=str(info.get("source", model_dir)), created_at=int(info.get("created_at", 0)), tags=dict(info.get("tags", {})),
        run_id=info.get("run_id"),
    )


def _artifacts_of(model: Any) -> dict[str, str]:
    """The local paths of the model's artifacts: agentgov's wrapper keeps them; else MLflow's own context has them."""
    inner = model.unwrap_python_model()
    found = getattr(inner, "artifacts", None)
    if found is None:
        context = getattr(getattr(model, "_model_impl", None), "context", None)
        found = getattr(context, "artifacts", None)
    return dict(found or {})


def _runtime_of(version: AgentVersion, artifacts: Mapping[str, str]) -> AgentRuntime:
    """The packaged manifest (as written), else the version's manifest tag (masked), with the packaged schemas."""
    from agentgov.core.masking import build_masker
    from agentgov.registry.runtime import AgentRuntime
    from agentgov.registry.runtime.packaged import read_manifest, read_schemas

    packaged = artifacts.get(MANIFEST_ARTIFACT)
    manifest = read_manifest(Path(packaged)) if packaged and Path(packaged).is_file() else version.manifest
    try:
        masker = build_masker(load_config())
    except AgentgovError:
        masker = None  # the built-in patterns
    return AgentRuntime.from_manifest(manifest, read_schemas(artifacts), version=version.version, masker=masker)


_LOAD_LOCK = threading.Lock()
_RUNTIME_LOCK = threading.Lock()


def _forget_agent_modules(model_dir: Path) -> None:
    """Drop from ``sys.modules`` the modules named like the model's own code files.

    MLflow puts each model's code folder first on ``sys.path`` but keeps what was
    imported before (by an earlier version, another agent with a ``router``
    module, or registration itself), so the model would run that code instead.
    Objects already built from the old modules keep working.
    """
    from mlflow.models import Model

    code = Model.load(str(model_dir)).flavors.get("python_function", {}).get("code")
    folder = model_dir / code if code else None
    if folder is None or not folder.is_dir():
        return
    names = {p.stem if p.suffix == ".py" else p.name for p in folder.iterdir() if p.suffix == ".py" or p.is_dir()}
    names -= {*sys.stdlib_module_names, "agentgov", "mlflow", "__pycache__"}
    for name in [n for n in sys.modules if n.split(".")[0] in names]:
        del sys.modules[name]
