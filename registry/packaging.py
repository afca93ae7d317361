"""Packaging an agent as an MLflow pyfunc *from code*: files, never a pickle."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from agentgov.core.errors import ConfigError
from agentgov.registry.errors import RegistrationFailed

logger = logging.getLogger("agentgov.registry.packaging")

WRAPPER = Path(__file__).with_name("pyfunc_model.py")


@dataclass(frozen=True)
class Package:
    """What goes into ``mlflow.pyfunc.log_model``."""

    python_model: Path
    code_paths: tuple[Path, ...]
    model_config: dict[str, str] | None
    example_request: dict[str, Any]
    example_response: dict[str, Any] | None
    tool_schemas: dict[str, Any] = field(default_factory=dict)  # connector.action -> JSON Schema, packaged for the runtime


@contextmanager
def on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def code_files(agent_dir: Path, exclude: set[Path]) -> tuple[Path, ...]:
    """The agent's Python modules and packages, each copied to the model's ``code/``.

    MLflow copies them following symbolic links, so a link that leads out of
    the agent folder (a module, a package, or anything inside a package) is
    refused: it would copy outside files into the registry.
    """
    root = agent_dir.resolve()
    found = []
    for path in sorted(agent_dir.iterdir()):
        if path in exclude or path.name.startswith((".", "__pycache__")):
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").is_file()):
            _refuse_links_out(agent_dir, root, path)
            found.append(path)
    return tuple(found)


def _refuse_links_out(agent_dir: Path, root: Path, top: Path) -> None:
    """Refuse ``top`` when it, or anything MLflow would copy from it, leads out of ``root``."""

    def check(path: Path) -> Path:
        target = path.resolve()
        if not target.is_relative_to(root):
            raise RegistrationFailed(
                f"code: {path.relative_to(agent_dir).as_posix()} leads out of the agent folder through a symbolic link "
                f"(to {target}); copy it into {agent_dir} or remove the link"
            )
        return target

    check(top)
    if not top.is_dir():
        return
    for folder, dirs, files in os.walk(top, followlinks=True):
        here = Path(folder)
        for name in [*dirs, *files]:
            entry = here / name
            if entry.is_symlink():
                target = check(entry)
                if entry.is_dir() and here.resolve().is_relative_to(target):
                    raise RegistrationFailed(
                        f"code: {entry.relative_to(agent_dir).as_posix()} is a symbolic link to a folder that holds it; "
                        "MLflow would copy it forever: remove the link"
                    )


PROBE_TIMEOUT_ENV = "AGENTGOV_PROBE_TIMEOUT_S"
PROBE_TIMEOUT_S = 30.0
PROBE_SCRIPT = Path(__file__).with_name("agent_probe.py")
OUTPUT_TAIL = 4096  # bytes of what the agent printed that are kept, for the error and the debug log


def probe_timeout() -> float:
    """The probe's time limit: ``$AGENTGOV_PROBE_TIMEOUT_S``, else 30 s."""
    raw = os.environ.get(PROBE_TIMEOUT_ENV, "").strip()
    if not raw:
        return PROBE_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"${PROBE_TIMEOUT_ENV}={raw!r}: expected a number of seconds above 0")
    return value


def probe(
    agent_dir: Path, file: str, class_name: str, example: dict[str, Any], *, agent: str | None = None, timeout: float | None = None,
    manifest: Path | None = None,
) -> dict[str, Any]:
    """Import the agent, build it and run it once on the example request, in a process of its own.

    Runs before anything is written, so a broken agent never becomes a version.
    An agent whose ``act`` takes a context gets one in ``shadow`` mode, built
    from ``manifest``: registering never causes a side effect (a side-effecting
    tool is answered by its stub; read-only tools execute).
    The process is killed after ``timeout`` seconds (default :func:`probe_timeout`);
    what the agent prints is kept from agentgov's stdout and stderr (a tail of it
    goes to the debug log and into the error); a ``sys.exit`` or ``os._exit``
    in the agent is a failure, not agentgov's exit.
    """
    limit = probe_timeout() if timeout is None else timeout
    where = f"entrypoint {file}:{class_name}" if agent is None else f"agent {agent}, entrypoint {file}:{class_name}"
    with tempfile.TemporaryDirectory(prefix="agentgov-probe-") as scratch:
        request, result = Path(scratch) / "request.json", Path(scratch) / "result.json"
        request.write_text(
            json.dumps(
                {"folder": str(agent_dir), "file": file, "class": class_name, "example": example, "parent": os.getpid(),
                 "manifest": None if manifest is None else str(manifest)},
                default=str,
            ),
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [sys.executable, "-B", str(PROBE_SCRIPT), str(request), str(result)],
            cwd=agent_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a Ctrl-C is agentgov's, and a kill reaches what it started
        )
        output = _Tail(process.stdout, OUTPUT_TAIL)
        try:
            process.wait(timeout=limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)
            output.close()
        outcome = json.loads(result.read_text(encoding="utf-8")) if result.is_file() else None
    printed = output.summary()
    if printed:
        logger.debug("%s printed during the probe: %s", where, printed)
    if timed_out:
        raise RegistrationFailed(
            f"{where}: the probe (import, build, act(example_request)) did not finish within {limit:g} s and was stopped"
            f"{output.last_line()}; make it faster, or raise ${PROBE_TIMEOUT_ENV}"
        )
    if outcome is None:
        code = process.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code} (os._exit?)"
        raise RegistrationFailed(f"{where}: the agent's process {how} before act(example_request) returned{output.last_line()}")
    if "error" in outcome:
        raise RegistrationFailed(f"{where}: {outcome['error']}{output.last_line()}")
    return outcome["response"]


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the probe and whatever it started; reap it."""
    if os.name == "posix":
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    elif process.poll() is None:
        process.kill()
    process.wait()


class _Tail:
    """Read a stream to its end in a thread, keeping only its last ``limit`` bytes."""

    def __init__(self, stream: IO[bytes] | None, limit: int) -> None:
        self._stream, self._limit = stream, limit
        self.data, self.total = b"", 0
        self._thread = threading.Thread(target=self._read, name="agentgov-probe-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        if self._stream is None:
            return
        try:
            while chunk := self._stream.read1(1 << 16):  # type: ignore[attr-defined]
                self.total += len(chunk)
                self.data = (self.data + chunk)[-self._limit :]
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        # Something the agent started may hold the pipe open; its group was killed, so this is short.
        self._thread.join(timeout=2)
        if self._stream is not None:
            self._stream.close()

    def summary(self) -> str:
        if not self.total:
            return ""
        text = self.data.decode("utf-8", "replace")
        return f"{self.total} bytes, ending {text!r}" if self.total > len(self.data) else repr(text)

    def last_line(self) -> str:
        lines = [line.strip() for line in self.data.decode("utf-8", "replace").splitlines() if line.strip()]
        if not lines:
            return ""
        line = lines[-1] if len(lines[-1]) <= 160 else lines[-1][:157] + "..."
        return f" (its last output: {line!r})"


def build(
    agent_dir: Path, manifest_path: Path, entrypoint: tuple[str, str | None], example: dict[str, Any], *, agent: str | None = None,
    tools: Any = (),
) -> Package:
    from agentgov.registry.runtime.packaged import tool_schemas

    file, class_name = entrypoint
    schemas = tool_schemas(agent_dir, tools)
    if class_name is None:
        # The agent brings its own models-from-code file.
        model_file = agent_dir / file
        return Package(model_file, code_files(agent_dir, {model_file}), None, example, None, schemas)
    code_paths = code_files(agent_dir, set())
    response = probe(agent_dir, file, class_name, example, agent=agent, manifest=manifest_path)
    return Package(
        python_model=WRAPPER,
        code_paths=code_paths,
        model_config={"module": Path(file).stem, "class": class_name},
        example_request=example,
        example_response=response,
        tool_schemas=schemas,
    )


def log(package: Package, manifest_path: Path, requirements: list[str], agent_dir: Path) -> Any:
    """Log the package in the active MLflow run; returns MLflow's ModelInfo.

    MLflow would load the model and run it on the input example once more, in
    this process; the probe already did that in a process of its own, so that
    check is off: ``Model.log`` reads ``validate_serving_input`` (MLflow's
    transformers flavor passes it) and hands its other arguments to the
    flavor's ``save_model``, here pyfunc's less that switch. A models-from-code file is still run here by MLflow, to
    find its model: what it prints is kept off agentgov's stdout and stderr,
    and a ``sys.exit`` in it is a failure.
    """
    import pandas as pd
    from mlflow.models import Model, infer_signature

    from agentgov.registry.runtime.packaged import MANIFEST_ARTIFACT, SCHEMAS_ARTIFACT, SCHEMAS_FILE

    request = pd.DataFrame([package.example_request])
    signature = infer_signature(request, pd.DataFrame([package.example_response])) if package.example_response else None
    artifacts = {MANIFEST_ARTIFACT: str(manifest_path)}
    with tempfile.TemporaryDirectory(prefix="agentgov-tools-") as scratch, on_path(agent_dir), _output_kept_aside("logging the model") as printed:
        if package.tool_schemas:
            schemas = Path(scratch) / SCHEMAS_FILE
            schemas.write_text(json.dumps(package.tool_schemas, sort_keys=True), encoding="utf-8")
            artifacts[SCHEMAS_ARTIFACT] = str(schemas)
        try:
            return Model.log(
                artifact_path=None,
                name="agent",
                flavor=_PYFUNC_WITHOUT_SERVING_CHECK,
                python_model=str(package.python_model),
                code_paths=[str(p) for p in package.code_paths],
                artifacts=artifacts,
                model_config=package.model_config,
                signature=signature,
                input_example=request,
                pip_requirements=requirements,
                flavor_name="pyfunc.ModelFromCode",  # what mlflow.pyfunc.log_model records for a file
                validate_serving_input=False,
            )
        except SystemExit as exc:
            raise RegistrationFailed(
                f"{package.python_model.name} called sys.exit({exc.code!r}) while MLflow loaded it{printed.last_line()}"
            ) from None


def _save_pyfunc(*, validate_serving_input: bool = True, **kwargs: Any) -> Any:
    import mlflow

    return mlflow.pyfunc.save_model(**kwargs)


# A flavor for ``Model.log``: "a module with a save_model function".
_PYFUNC_WITHOUT_SERVING_CHECK = SimpleNamespace(__name__="mlflow.pyfunc", save_model=_save_pyfunc)


@contextmanager
def _output_kept_aside(what: str) -> Iterator[_Tail]:
    """Send what is written to file descriptors 1 and 2 to a pipe for the block; yields its tail."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    read_end, write_end = os.pipe()
    saved = [os.dup(1), os.dup(2)]
    tail = _Tail(os.fdopen(read_end, "rb"), OUTPUT_TAIL)
    try:
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        yield tail
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        tail.close()
        if tail.total:
            logger.debug("printed while %s: %s", what, tail.summary())
