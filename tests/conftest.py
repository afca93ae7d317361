"""Shared fixtures. The agentgov fixtures themselves (``agentgov_home``,
``agentgov_config``, ``agentgov_plugins``) come from agentgov's own pytest
plugin, ``agentgov.core.testing``, exactly as a plugin author gets them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

# The suite runs commands in process (one control plane per test home would cost seconds each and outlive
# the test); tests/pipelines/test_control_plane.py runs them through one on purpose.
os.environ.setdefault("AGENTGOV_NO_SERVER", "1")
# Tables are as wide as when piped (cli/output.py), not as the outside terminal or the pytest-xdist worker
# (which starts with COLUMNS=80) says; a test that wants a width passes COLUMNS itself.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

SERVE_MARKER = b"agentgov.cli.server_commands import serve_main"


def _control_planes_under(root: Path) -> list[tuple[int, str]]:
    """(pid, the test that started it) of every control plane whose home lies under ``root`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if SERVE_MARKER not in (proc / "cmdline").read_bytes():
                continue
            env = dict(line.split(b"=", 1) for line in (proc / "environ").read_bytes().split(b"\0") if b"=" in line)
        except OSError:
            continue
        home = env.get(b"AGENTGOV_HOME", b"").decode(errors="replace")
        if home and Path(home).is_relative_to(root):
            found.append((int(proc.name), env.get(b"PYTEST_CURRENT_TEST", b"?").decode(errors="replace")))
    return found


@pytest.fixture(scope="session", autouse=True)
def _no_control_plane_outlives_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the run (of each xdist worker) no control plane of a home under its temporary folder may
    run: those still named by a ``control.json`` are stopped; any other is killed and reported as an error."""
    yield
    import signal

    from agentgov.pipelines import control_plane

    root = tmp_path_factory.getbasetemp()
    for found in root.rglob("server/control.json"):
        control_plane.stop(found.parent.parent)
    left = _control_planes_under(root)
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, "control planes left running (killed now): " + "; ".join(f"pid {p} from {t}" for p, t in left)


WORKERS = 2  # the suite is mostly subprocesses and servers: two workers on a 2-core machine (measured)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns -n into workers
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole suite (``python -m pytest``, no paths) runs on WORKERS xdist workers unless ``-n`` says
    otherwise; a run of chosen files or tests stays in one process (no worker start-up, one MLflow server).

    Here rather than in ``addopts``, which would make ``-p no:xdist`` a usage error."""
    if not config.pluginmanager.hasplugin("xdist") or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if config.option.numprocesses is None and config.args_source != pytest.Config.ArgsSource.ARGS:
        config.option.numprocesses = WORKERS
    if config.option.dist == "no":
        # A file's tests stay on one worker: many share a module fixture (a control plane, a Prefect server, a
        # built wheel) and run in order. Not loadgroup: with pytest 9.2, xdist 3.8's groups are not honoured
        # (it renames item._nodeid, pytest 9 reads item._id), so a group's tests were split across workers.
        config.option.dist = "loadfile"


@pytest.fixture(autouse=True)
def _no_control_plane_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stop any control plane a test started in its temporary folders (its home's ``server/control.json``)."""
    root = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None  # torn down after this one
    yield
    if root is None:
        return
    from agentgov.pipelines import control_plane

    for pattern in ("*/server/control.json", "*/*/server/control.json", "*/*/*/server/control.json"):
        for found in root.glob(pattern):
            control_plane.stop(found.parent.parent)


@pytest.fixture
def default_mode(agentgov_home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run as a user's do by default: through the home's control plane, which the first one starts
    (``_no_control_plane_left`` stops it after the test)."""
    monkeypatch.setenv("AGENTGOV_NO_SERVER", "0")


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Make an installed-looking distribution with ``agentgov`` entry points.

    Writes the modules and a ``.dist-info`` folder into a fresh folder and puts
    it on ``sys.path`` (and ``PYTHONPATH`` for subprocesses), which is all
    ``importlib.metadata`` needs to find the entry points: no pip, no network.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))

    def make(distribution: str, modules: dict[str, str], entry_points: dict[str, str], version: str = "1.0") -> Path:
        for name, source in modules.items():
            (site / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[agentgov]\n{lines}", encoding="utf-8")
        return site

    return make


def manifest_name(agent_dir: Path) -> str:
    """The ``name:`` of the agent.yaml in ``agent_dir``, as the test wrote it."""
    for line in (agent_dir / "agent.yaml").read_text().splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no name in agent.yaml")


@pytest.fixture
def agent_name(agent_dir: Path) -> str:
    """The name of the test's copy of the example agent (each directory's conftest makes ``agent_dir``)."""
    return manifest_name(agent_dir)


def agentgov_executable() -> str:
    found = shutil.which("agentgov", path=str(Path(sys.executable).parent))
    assert found, "the agentgov command is not installed in this environment; install as the README says"
    return found


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real ``agentgov`` command in a subprocess, in the current directory and environment."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
        merged = {**os.environ, **(env or {})}
        result = subprocess.run([agentgov_executable(), *args], capture_output=True, text=True, env=merged, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"agentgov {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    return run


# -- a shared backend: a real `mlflow server` on PostgreSQL (tests/registry runs on it and on sqlite; the rollout
# tests run one module on it) --------------------------------------------------------------------------------

PG = {"host": os.environ.get("AGENTGOV_TEST_PGHOST", "127.0.0.1"), "port": 5432, "user": os.environ.get("AGENTGOV_TEST_PGUSER", "postgres")}


def _postgres_admin():
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow server on a loopback port, on a fresh PostgreSQL database for this run."""
    try:
        admin = _postgres_admin()
    except Exception as exc:
        pytest.skip(
            f"server-mode tests need PostgreSQL on {PG['host']}:5432 as user {PG['user']} ({exc}); "
            "start it (`pg_ctlcluster <version> main start`, as .ci/run does) or set AGENTGOV_TEST_PGHOST/PGUSER"
        )
    # One server per xdist worker, each on its own database (the worker id names whose it is).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    database = f"agentgov_test_{worker}_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    from agentgov.deploy.process import wait_until_ready
    from agentgov.pipelines.runtime import free_port

    port = free_port()
    root = tmp_path_factory.mktemp("mlflow-server")
    log = open(root / "server.log", "w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"), "server",
            "--backend-store-uri", f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{database}",
            "--artifacts-destination", (root / "artifacts").as_uri(),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            f"{uri}/health", running=lambda: process.poll() is None, timeout=120, log=root / "server.log",
            what="mlflow server",
        )
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


# -- one registered version, its bento and a real `bentoml serve` of it, shared by the serving tests ----------


@dataclass(frozen=True)
class ExampleProject:
    """A folder holding a copy of the example agent under a name of its own, and a home created beside it."""

    root: Path
    agent_dir: Path
    home: Any  # agentgov.core.home.Home
    environ: dict[str, str]
    config: Any  # agentgov.core.config.Config for that home
    plugins: Any  # a plugin manager with the built-in plugins only


def example_project(
    root: Path, prefix: str, user: str, settings: str | None = None, tracking_uri: str | None = None
) -> ExampleProject:
    """Copy examples/support-router into ``root/agent`` named ``PREFIX-<random>`` (no datasets), create
    ``root/home``, and load its configuration (``settings``, if given, is written to ``root/agentgov.toml`` first).

    ``tracking_uri`` (say ``mlflow_server``'s) goes into the environment as ``AGENTGOV_TRACKING_URI``; without it
    the home's embedded sqlite registry is used."""
    import yaml

    from agentgov.core.config import load_config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager

    example = REPO / "examples" / "support-router"
    agent_dir = root / "agent"
    agent_dir.mkdir()
    for file in example.glob("*.py"):
        shutil.copy(file, agent_dir)
    manifest = yaml.safe_load((example / "agent.yaml").read_text())
    manifest["name"] = f"{prefix}-{uuid.uuid4().hex[:8]}"
    manifest.pop("datasets", None)
    (agent_dir / "agent.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    if settings is not None:
        (root / "agentgov.toml").write_text(settings)
    home = Home(root / "home")
    home.create()
    environ = {"AGENTGOV_HOME": str(home.root), "AGENTGOV_USER": user, "AGENTGOV_NO_SERVER": "1"}
    if tracking_uri is not None:
        environ["AGENTGOV_TRACKING_URI"] = tracking_uri
    config = load_config(start=root, environ=environ)
    plugins = PluginManager(config)
    plugins.load_builtins()
    return ExampleProject(root, agent_dir, home, environ, config, plugins)


@dataclass(frozen=True)
class ServedAgent:
    """A home (outside every test's own) holding one registered version of the example agent, promoted to production."""

    config: Any  # agentgov.core.config.Config for that home
    plugins: Any  # a plugin manager with the built-in plugins only
    name: str
    version: int
    agent_dir: Path


@pytest.fixture(scope="session")
def served_agent(tmp_path_factory: pytest.TempPathFactory) -> ServedAgent:
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import promote
    from agentgov.pipelines.registration import register

    project = example_project(tmp_path_factory.mktemp("served"), "served", "test-user")
    config, plugins, home, agent_dir = project.config, project.plugins, project.home, project.agent_dir
    version = register(agent_dir, config=config, audit=home.audit_log, plugins=plugins, actor="test-user")
    promote(config, AgentRef(version.name, version=version.version), Stage.PRODUCTION, actor="test-user", audit=home.audit_log, plugins=plugins)
    return ServedAgent(config, plugins, version.name, version.version, agent_dir)


@pytest.fixture(scope="session")
def served_bento(served_agent: ServedAgent) -> Any:
    """``pipelines.serving.build`` of the served agent's version: a ``Built`` (version, artifact, resources)."""
    from agentgov.core.types import AgentRef
    from agentgov.pipelines.serving import build

    return build(served_agent.config, served_agent.plugins, AgentRef(served_agent.name, version=served_agent.version))


@pytest.fixture(scope="session")
def bento_server(served_agent: ServedAgent, served_bento: Any) -> Iterator[str]:
    """The bento served by a real ``bentoml serve`` on a free loopback port; its URL. Stopped at the end of the session."""
    from agentgov.deploy.process import alive, start_time, stop, wait_until_ready
    from agentgov.pipelines.runtime import free_port
    from agentgov.plugins.deploy.bentoml_local.bento import bentoml_env
    from agentgov.plugins.deploy.bentoml_local.target import serve_command

    port = free_port()
    log = served_agent.config.home / "logs" / "bento-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        server = subprocess.Popen(
            serve_command(served_bento.artifact.tag, port), env=bentoml_env(served_agent.config.home),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    started = start_time(server.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/readyz", running=lambda: server.poll() is None, timeout=120, log=log, what="bentoml serve")
        yield url
    finally:
        stop(server.pid, started, timeout=15)
        server.wait(timeout=10)
        assert not alive(server.pid, started)
