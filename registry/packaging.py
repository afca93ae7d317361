"""Packaging an agent as an MLflow pyfunc *from code*: files, never a pickle."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgov.registry.errors import RegistrationFailed

WRAPPER = Path(__file__).with_name("pyfunc_model.py")


@dataclass(frozen=True)
class Package:
    """What goes into ``mlflow.pyfunc.log_model``."""

    python_model: Path
    code_paths: tuple[Path, ...]
    model_config: dict[str, str] | None
    example_request: dict[str, Any]
    example_response: dict[str, Any] | None


@contextmanager
def on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def code_files(agent_dir: Path, exclude: set[Path]) -> tuple[Path, ...]:
    """The agent's Python modules and packages, each copied to the model's ``code/``."""
    found = []
    for path in sorted(agent_dir.iterdir()):
        if path in exclude or path.name.startswith((".", "__pycache__")):
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").is_file()):
            found.append(path)
    return tuple(found)


def probe(agent_dir: Path, file: str, class_name: str, example: dict[str, Any]) -> dict[str, Any]:
    """Import the agent, build it and run it once on the example request.

    Runs before anything is written, so a broken agent never becomes a version.
    """
    path = agent_dir / file
    module_name = f"_agentgov_probe_{uuid.uuid4().hex}"
    where = f"entrypoint {file}:{class_name}"
    with on_path(agent_dir):
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as exc:
            raise RegistrationFailed(f"{where}: {file} failed to import: {type(exc).__name__}: {exc}") from None
        agent_class = getattr(module, class_name, None)
        if agent_class is None:
            raise RegistrationFailed(f"{where}: {file} has no class {class_name}")
        if not callable(getattr(agent_class, "act", None)):
            raise RegistrationFailed(f"{where}: {class_name} has no act(request) method")
        try:
            response = agent_class().act(dict(example))
        except Exception as exc:
            raise RegistrationFailed(f"{where}: act(example_request) raised {type(exc).__name__}: {exc}") from None
    if not isinstance(response, dict):
        raise RegistrationFailed(f"{where}: act() must return a dict, returned {type(response).__name__}")
    return response


def build(agent_dir: Path, manifest_path: Path, entrypoint: tuple[str, str | None], example: dict[str, Any]) -> Package:
    file, class_name = entrypoint
    if class_name is None:
        # The agent brings its own models-from-code file.
        model_file = agent_dir / file
        return Package(model_file, code_files(agent_dir, {model_file}), None, example, None)
    response = probe(agent_dir, file, class_name, example)
    return Package(
        python_model=WRAPPER,
        code_paths=code_files(agent_dir, set()),
        model_config={"module": Path(file).stem, "class": class_name},
        example_request=example,
        example_response=response,
    )


def log(package: Package, manifest_path: Path, requirements: list[str], agent_dir: Path) -> Any:
    """Log the package in the active MLflow run; returns MLflow's ModelInfo."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    request = pd.DataFrame([package.example_request])
    signature = infer_signature(request, pd.DataFrame([package.example_response])) if package.example_response else None
    with on_path(agent_dir):
        return mlflow.pyfunc.log_model(
            name="agent",
            python_model=str(package.python_model),
            code_paths=[str(p) for p in package.code_paths],
            artifacts={"manifest": str(manifest_path)},
            model_config=package.model_config,
            signature=signature,
            input_example=request,
            pip_requirements=requirements,
        )
