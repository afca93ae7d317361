"""Run an agent once on its example request, in a process of its own.

Started by :func:`agentgov.registry.packaging.probe` as
``python -B agent_probe.py REQUEST RESULT``; never imported by agentgov. It
imports only the standard library, so what a probe costs is the interpreter
and the agent's own imports (and, for an agent whose ``act`` takes a context,
agentgov's runtime, which gives it one in ``shadow`` mode: registering never
causes a side effect). REQUEST is a JSON file
``{"folder", "file", "class", "example", "parent", "manifest"}``; the outcome is written to
RESULT as JSON, ``{"response": {...}}`` or ``{"error": "one line"}``. What the
agent prints stays in this process's stdout and stderr, which the parent reads.
A ``sys.exit`` in the agent is a named failure; an ``os._exit`` or a signal
leaves no RESULT, and the parent names the exit code.
"""

import importlib.util
import json
import os
import signal
import sys


class Failure(Exception):
    """The probe failed; the message is one line, for the user."""


def _die_with_parent(parent: int) -> None:
    """On Linux, get SIGKILL when agentgov dies (a killed registration leaves no agent running)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # agentgov died before we asked
        os._exit(1)


def _exited(exc: SystemExit) -> str:
    return f"sys.exit({exc.code!r})" if exc.code is not None else "sys.exit()"


def _shadow_context(manifest: str | None, folder: str):
    """A shadow-mode context from the manifest beside the agent: side-effecting tools answer with their stubs."""
    if manifest is None:
        raise Failure("act(request, ctx) needs a context, and the probe was given no manifest to build it from")
    from agentgov.registry.manifest import load_manifest
    from agentgov.registry.runtime import AgentRuntime

    runtime = AgentRuntime.from_manifest(load_manifest(manifest), schema_dir=folder)
    return runtime.context("shadow", trace_id="registration-probe")


def _wants_context(act) -> bool:
    import inspect

    try:
        parameters = inspect.signature(act).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def run(folder: str, file: str, class_name: str, example: dict, manifest: str | None = None) -> dict:
    path = os.path.join(folder, file)
    spec = importlib.util.spec_from_file_location(os.path.splitext(file)[0], path)
    if spec is None or spec.loader is None:
        raise Failure(f"{file} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as MLflow will import it: under its own name
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise Failure(f"{file} called {_exited(exc)} while it was imported") from None
    except BaseException as exc:
        raise Failure(f"{file} failed to import: {type(exc).__name__}: {exc}") from None
    agent_class = getattr(module, class_name, None)
    if agent_class is None:
        raise Failure(f"{file} has no class {class_name}")
    if not callable(getattr(agent_class, "act", None)):
        raise Failure(f"{class_name} has no act(request) method")
    try:
        agent = agent_class()
        if _wants_context(agent.act):
            response = agent.act(dict(example), _shadow_context(manifest, folder))
        else:
            response = agent.act(dict(example))
    except Failure:
        raise
    except SystemExit as exc:
        raise Failure(f"act(example_request) called {_exited(exc)}") from None
    except BaseException as exc:
        raise Failure(f"act(example_request) raised {type(exc).__name__}: {exc}") from None
    if not isinstance(response, dict):
        raise Failure(f"act() must return a dict, returned {type(response).__name__}")
    try:
        json.dumps(response)
    except (TypeError, ValueError) as exc:
        raise Failure(f"act() must return a dict of JSON values: {exc}") from None
    return response


def main(request_path: str, result_path: str) -> None:
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    _die_with_parent(request["parent"])
    folder = request["folder"]
    sys.path[0] = folder  # the agent's folder, where this script's own folder was
    try:
        outcome = {"response": run(folder, request["file"], request["class"], request["example"], request.get("manifest"))}
    except Failure as failure:
        outcome = {"error": str(failure)}
    try:
        text = json.dumps(outcome)
    except (TypeError, ValueError) as exc:  # a response whose keys or values changed since they were checked
        text = json.dumps({"error": f"act() must return a dict of JSON values: {exc}"})
    with open(result_path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(result_path + ".tmp", result_path)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)  # not waiting for threads the agent started, nor running its atexit hooks


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
