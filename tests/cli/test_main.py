"""The command line, run as a user runs it: the installed ``agentgov`` in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentgov.core.home import Home

HEAVY = ("mlflow", "prefect", "evidently", "great_expectations", "bentoml", "dvc", "pandas")

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("args", [["--help"], ["version"], ["init", "--help"], ["plugins", "list", "--help"]])
def test_help_and_version_import_no_heavy_library(args: list[str], agentgov_home: Home) -> None:
    probe = (
        "import sys\n"
        "from agentgov.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in result.stdout, result.stdout


def test_version_lists_the_libraries_it_drives(run_cli: Run, agentgov_home: Home) -> None:
    data = json.loads(run_cli("version", "--json", check=True).stdout)
    assert data["components"]["mlflow"] == "3.17.2"
    assert data["components"]["pluggy"] == "1.7.0"
    assert data["agentgov"]


def test_init_creates_the_config_and_the_home_and_records_it(run_cli: Run, agentgov_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTGOV_HOME")
    result = run_cli("init", check=True)
    home = Path.cwd() / ".agentgov"
    assert Path("agentgov.toml").is_file()
    assert (home / "audit").is_dir() and (home / ".gitignore").read_text() == "*\n"
    assert f"Created the home folder {home}" in result.stdout
    records = json.loads(run_cli("audit", "show", "--json", check=True).stdout)
    assert [(r["action"], r["actor"]) for r in records] == [("home.init", "test-user")]

    Path("agentgov.toml").write_text(Path("agentgov.toml").read_text() + "\n# mine\n")
    again = run_cli("init", check=True)
    assert "Kept the existing" in again.stdout
    assert Path("agentgov.toml").read_text().endswith("# mine\n")
    assert len(json.loads(run_cli("audit", "show", "--json", check=True).stdout)) == 1


def test_config_show_says_where_each_value_came_from(run_cli: Run, agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text('[plugins]\nblock = ["x"]\n')
    rows = json.loads(run_cli("config", "show", "--json", env={"PREFECT_API_URL": "http://127.0.0.1:4200/api"}, check=True).stdout)
    by_setting = {r["setting"]: r for r in rows}
    assert by_setting["home"]["source"] == "$AGENTGOV_HOME"
    assert by_setting["plugins.block"] == {"setting": "plugins.block", "value": "x", "source": "agentgov.toml, line 2"}
    assert by_setting["prefect.api_url"]["source"] == "$PREFECT_API_URL"
    table = run_cli("config", "show", check=True).stdout
    assert "agentgov.toml, line 2" in table and "Source" in table


def test_bad_config_is_one_line_with_exit_code_2_and_no_traceback(run_cli: Run, agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text('[plugins]\nblock = "x"\n')
    result = run_cli("config", "show")
    assert result.returncode == 2
    assert result.stdout == ""
    expected = f"agentgov: error: {Path.cwd() / 'agentgov.toml'}, line 2: 'plugins.block' must be a list of strings, got 'x'\n"
    assert result.stderr == expected


def test_debug_shows_the_traceback(run_cli: Run, agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text("[plugins\n")
    result = run_cli("--debug", "config", "show")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("agentgov: error:")


def test_an_unknown_command_is_a_usage_error(run_cli: Run, agentgov_home: Home) -> None:
    result = run_cli("promtoe")
    assert result.returncode == 2
    assert "No such command 'promtoe'" in result.stderr


def test_plugins_list_shows_builtins_and_the_installed_example_plugin(run_cli: Run, agentgov_home: Home) -> None:
    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "list", "--json", check=True).stdout)}
    assert plugins["log-events"]["source"] == "built-in"
    assert "notify-file" in plugins, "install the example plugin: pip install -e examples/agentgov-notify-file (see README)"
    example = plugins["notify-file"]
    assert (example["source"], example["distribution"], example["status"]) == ("entry point", "agentgov-notify-file", "loaded")
    assert example["hooks"] == ["agentgov_on_event"]
    table = run_cli("plugins", "list", check=True).stdout
    assert "agentgov-notify-file 0.1.0" in table


def test_a_blocked_plugin_is_listed_as_blocked(run_cli: Run, agentgov_home: Home) -> None:
    result = run_cli("plugins", "list", "--json", env={"AGENTGOV_PLUGINS_BLOCK": "notify-file"}, check=True)
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["notify-file"]["status"] == "blocked"
    assert plugins["notify-file"]["hooks"] == []


def test_broken_plugins_are_named_in_the_list_and_on_stderr(
    run_cli: Run, agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    fake_distribution("acme-broken", {"acme_broken": "import does_not_exist\n"}, {"broken": "acme_broken"})
    fake_distribution(
        "acme-sloppy",
        {"acme_sloppy": "from agentgov.core import hookimpl\n@hookimpl\ndef agentgov_register_policies(register):\n    register(42)\n"},
        {"sloppy": "acme_sloppy"},
    )
    result = run_cli("plugins", "list", check=True)
    assert "agentgov: warning: plugin 'broken' (from acme-broken): failed to import acme_broken: ModuleNotFoundError" in result.stderr
    assert (
        "agentgov: warning: plugin 'sloppy' (from acme-sloppy), hook agentgov_register_policies: "
        "registered int 42, which is not a policy" in result.stderr
    )
    assert "Traceback" not in result.stderr
    listed = {p["name"]: p for p in json.loads(run_cli("plugins", "list", "--json", check=True).stdout)}
    assert listed["broken"]["status"] == "error"
    assert listed["broken"]["problems"][0].startswith("failed to import acme_broken: ModuleNotFoundError")
    assert listed["sloppy"]["problems"][0].startswith("agentgov_register_policies: registered int 42, which is not a policy")


def test_audit_verify_passes_then_names_the_first_tampered_record(run_cli: Run, agentgov_home: Home) -> None:
    log = agentgov_home.audit_log
    for i in range(3):
        log.append(actor="alice", action="stage.change", subject=f"router/{i + 1}", payload={"i": i})
    ok = run_cli("audit", "verify", check=True)
    assert "Audit log OK: 3 records" in ok.stdout

    lines = log.path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"alice"', '"mallory"')
    log.path.write_text("".join(lines))
    bad = run_cli("audit", "verify")
    assert bad.returncode == 1
    assert bad.stderr == f"agentgov: error: audit log {log.path}: record 2 (seq 2) was edited: its hash does not match its content\n"
    as_json = run_cli("audit", "verify", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["line"] == 2


def test_audit_show_filters_by_agent(run_cli: Run, agentgov_home: Home) -> None:
    log = agentgov_home.audit_log
    log.append(actor="alice", action="stage.change", subject="router/1")
    log.append(actor="bob", action="stage.change", subject="triage/1")
    records = json.loads(run_cli("audit", "show", "--agent", "triage", "--json", check=True).stdout)
    assert [r["actor"] for r in records] == ["bob"]
    table = run_cli("audit", "show", "--agent", "router", check=True).stdout
    assert "alice" in table and "bob" not in table
    assert "No audit records for nobody." in run_cli("audit", "show", "--agent", "nobody", check=True).stdout


# -- exit status 0 means the command finished ---------------------------------------------------------

UNFINISHED = "agentgov: error: the command ended before it finished ({how}); nothing is certain to have been recorded\n"
SUPERVISE_OFF = {"AGENTGOV_SUPERVISE": "0"}

EXITS_IN_A_HOOK = """
import os
from agentgov.core import hookimpl

@hookimpl
def agentgov_register_policies(register):
    os._exit(0)
"""

EXITS_ON_ATTRIBUTE = """
import os, sys
from agentgov.core import hookimpl

REGISTERED = False

class Policy:
    name = "exits-when-looked-at"
    description = "once registered, reading its parameters ends the process"
    stages = ("production",)

    @property
    def parameters(self):
        if REGISTERED:
            sys.exit(int(os.environ.get("EXIT_WITH", "0")))
        return {}

    def evaluate(self, context):
        return context.passed("ok")

@hookimpl
def agentgov_register_policies(register):
    global REGISTERED
    register(Policy())
    REGISTERED = True
"""

WAITS = """
import os, sys, time
from agentgov.core import hookimpl

@hookimpl
def agentgov_register_policies(register):
    if os.environ.get("READ_STDIN"):
        print("read " + input(), file=sys.stderr, flush=True)
        return
    import subprocess
    # something the command started, in its process group (not holding the test's pipes)
    sleeper = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"ready {os.getpid()} {sleeper.pid}", file=sys.stderr, flush=True)
    time.sleep(60)
"""


def test_a_plugin_that_ends_the_process_with_status_0_makes_the_command_fail(
    run_cli: Run, agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    fake_distribution("acme-exit", {"acme_exit": EXITS_IN_A_HOOK}, {"exits": "acme_exit"})
    result = run_cli("policies", "list", "--json")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == UNFINISHED.format(how="a plugin or an agent ended the process, for instance with os._exit(0)")
    assert run_cli("policies", "list", "--json", env=SUPERVISE_OFF).returncode == 0  # what it did before: success, nothing done


def test_sys_exit_0_inside_a_command_is_a_named_failure_and_other_statuses_pass_through(
    run_cli: Run, agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    site = fake_distribution("acme-exit", {"acme_exit": EXITS_ON_ATTRIBUTE}, {"exits": "acme_exit"})
    for env in ({}, SUPERVISE_OFF):
        result = run_cli("policies", "list", env=env)
        assert (result.returncode, result.stdout) == (1, "")
        line = 1 + EXITS_ON_ATTRIBUTE.splitlines().index("            sys.exit(int(os.environ.get(\"EXIT_WITH\", \"0\")))")
        assert result.stderr == UNFINISHED.format(how=f"sys.exit(0) was called at {site / 'acme_exit.py'}:{line}")
        assert run_cli("policies", "list", env={**env, "EXIT_WITH": "3"}).returncode == 3


def test_a_plugin_calling_sys_exit_at_import_is_a_listed_problem_and_commands_still_work(
    run_cli: Run, agentgov_home: Home, fake_distribution: Callable[..., Path]
) -> None:
    fake_distribution("acme-exit", {"acme_exit": "import sys\nsys.exit(0)\n"}, {"exits": "acme_exit"})
    listed = run_cli("plugins", "list", "--json", check=True)
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["exits"]["status"] == "error"
    assert plugins["exits"]["problems"] == ["failed to import acme_exit: it called sys.exit(0) while being imported"]
    assert "agentgov: warning: plugin 'exits' (from acme-exit): failed to import acme_exit: it called sys.exit(0)" in listed.stderr
    assert "change-freeze" in run_cli("policies", "list", check=True).stdout


@pytest.mark.parametrize("args", [["version"], ["promtoe"], ["config", "show"]])
def test_the_supervisor_keeps_output_and_exit_status_as_they_were(run_cli: Run, agentgov_home: Home, args: list[str]) -> None:
    Path("agentgov.toml").write_text('[plugins]\nblock = "x"\n')  # config show: one line, exit 2
    supervised, alone = run_cli(*args), run_cli(*args, env=SUPERVISE_OFF)
    assert (supervised.returncode, supervised.stdout, supervised.stderr) == (alone.returncode, alone.stdout, alone.stderr)
    assert supervised.returncode in (0, 2)


def test_stdin_reaches_the_command(agentgov_home: Home, fake_distribution: Callable[..., Path]) -> None:
    fake_distribution("acme-waits", {"acme_waits": WAITS}, {"waits": "acme_waits"})
    from tests.conftest import agentgov_executable

    result = subprocess.run(
        [agentgov_executable(), "policies", "list"], input="hello\n", capture_output=True, text=True, env={**os.environ, "READ_STDIN": "1"}, timeout=60
    )
    assert result.returncode == 0 and "read hello" in result.stderr


def _started(env: dict[str, str] | None = None, **popen: object) -> tuple[subprocess.Popen[str], int, int]:
    """``agentgov policies list`` waiting in a plugin's hook; the pids of the process running the command and of a child of it."""
    from tests.conftest import agentgov_executable

    process = subprocess.Popen(
        [agentgov_executable(), "policies", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, **popen
    )
    line = process.stderr.readline()  # type: ignore[union-attr]
    if line.startswith("agentgov: starting the control plane for "):  # through one that was not running (or was stale)
        line = process.stderr.readline()  # type: ignore[union-attr]
    assert line.startswith("ready "), line + process.communicate()[1]
    return process, int(line.split()[1]), int(line.split()[2])


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("signal_name", "to_group"),
    [("SIGINT", True), ("SIGINT", False), ("SIGTERM", False), ("SIGTERM", True), ("SIGKILL", False), ("SIGKILL", True)],
)
def test_signals_end_the_command_as_they_did_without_the_supervisor(
    agentgov_home: Home, fake_distribution: Callable[..., Path], signal_name: str, to_group: bool
) -> None:
    fake_distribution("acme-waits", {"acme_waits": WAITS}, {"waits": "acme_waits"})
    number = getattr(signal, signal_name)
    outcomes = []
    for env in ({}, SUPERVISE_OFF):
        process, worker, sleeper = _started(env, start_new_session=True)
        (os.killpg if to_group else os.kill)(process.pid, number)
        out, err = process.communicate(timeout=30)
        assert _gone(worker), f"the process running the command outlived {signal_name}"
        if to_group and signal_name == "SIGKILL":
            assert _gone(sleeper), "what the command started outlived a kill of its process group"
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(sleeper, signal.SIGKILL)
        outcomes.append((process.returncode, out, err))
    assert outcomes[0] == outcomes[1]
    if signal_name == "SIGINT":
        assert outcomes[0] == (1, "", "\nAborted!\n")  # once: a second Ctrl-C would have interrupted the first one's handling
    else:
        assert outcomes[0][0] == -number


def test_ctrl_c_on_a_terminal_reaches_the_command_once(agentgov_home: Home, fake_distribution: Callable[..., Path]) -> None:
    import fcntl
    import pty
    import termios

    fake_distribution("acme-waits", {"acme_waits": WAITS}, {"waits": "acme_waits"})
    outcomes = []
    for env in ({}, SUPERVISE_OFF):
        leader, follower = pty.openpty()

        def controlling_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        from tests.conftest import agentgov_executable

        process = subprocess.Popen(
            [agentgov_executable(), "policies", "list"], stdin=follower, stdout=follower, stderr=follower,
            env={**os.environ, **env}, start_new_session=True, preexec_fn=controlling_terminal,
        )
        os.close(follower)
        seen = b""
        while not re.search(rb"ready \d+ \d+\s", seen):
            seen += os.read(leader, 1024)
        os.write(leader, b"\x03")  # Ctrl-C: the terminal signals its foreground process group
        assert process.wait(timeout=30) is not None
        sleeper = int(seen.split(b"ready ", 1)[1].split()[1])
        assert _gone(sleeper)  # Ctrl-C reached what the command started, too
        rest = b""
        try:
            while chunk := os.read(leader, 1024):
                rest += chunk
        except OSError:  # the terminal closes when the last process holding it exits
            pass
        os.close(leader)
        outcomes.append((process.returncode, rest.replace(b"\r\n", b"\n").replace(b"^C", b"")))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == (1, b"\nAborted!\n")


EXITS_IN_A_POLICY = """
import os
from agentgov.core import hookimpl

class ExitsTheProcess:
    name = "exits-the-process"
    description = "ends the process from inside evaluate"
    stages = ("shadow",)

    def evaluate(self, context):
        os._exit(0)

@hookimpl
def agentgov_register_policies(register):
    register(ExitsTheProcess())
"""


def test_promote_with_a_policy_that_ends_the_process_fails_and_records_nothing_unless_isolated(
    run_cli: Run, agentgov_home: Home, fake_distribution: Callable[..., Path], tmp_path: Path
) -> None:
    import shutil

    from agentgov.core.config import load_config
    from agentgov.core.plugins import load_plugins
    from agentgov.pipelines.registration import register

    fake_distribution("acme-exit", {"acme_exit": "import sys\nsys.exit(0)\n"}, {"exits-at-import": "acme_exit"})
    fake_distribution("acme-os-exit", {"acme_os_exit": EXITS_IN_A_POLICY}, {"os-exit": "acme_os_exit"})
    agent = tmp_path / "agent"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "support-router", agent, ignore=shutil.ignore_patterns("__pycache__"))
    config = load_config()
    version = register(agent, config=config, audit=agentgov_home.audit_log, plugins=load_plugins(config, entrypoints=False), actor="alice")
    name = version.name

    def decisions() -> list[dict]:
        return [dict(r.payload) for r in agentgov_home.audit_log.records(subject_prefix=name) if r.action == "decision"]

    Path("agentgov.toml").write_text("[stages.shadow.policies.exits-the-process]\n")
    ended = run_cli("promote", name, "1", "--to", "shadow")
    assert ended.returncode == 1, ended.stdout + ended.stderr
    assert ended.stderr.endswith(UNFINISHED.format(how="a plugin or an agent ended the process, for instance with os._exit(0)"))
    assert decisions() == []

    Path("agentgov.toml").write_text('[stages.shadow.policies.exits-the-process]\nisolation = "process"\n')
    isolated = run_cli("promote", name, "1", "--to", "shadow", "--json")
    assert isolated.returncode == 1, isolated.stdout + isolated.stderr
    [result] = json.loads(isolated.stdout)["decision"]["results"]
    assert (result["policy"], result["status"]) == ("exits-the-process", "error")
    assert result["reason"] == "its process ended with exit status 0 before answering (plugin os-exit)"
    assert [d["outcome"] for d in decisions()] == ["blocked"]  # the command finished: the plugin that exits at import did not stop it
    assert "plugin 'exits-at-import' (from acme-exit): failed to import acme_exit: it called sys.exit(0)" in isolated.stderr


# -- the same through the home's control plane (`agentgov server`) -------------------------------------

THROUGH_SERVER = {"AGENTGOV_NO_SERVER": "0"}


@pytest.fixture
def control_plane_stopped(agentgov_home: Home) -> Iterator[Home]:
    from agentgov.pipelines import control_plane

    try:
        yield agentgov_home
    finally:
        control_plane.stop(agentgov_home.root)


def _without_start_line(stderr: str) -> str:
    return stderr.partition("\n")[2] if stderr.startswith("agentgov: starting the control plane for ") else stderr


def test_through_the_control_plane_a_plugin_ending_the_process_with_status_0_fails_in_one_line(
    run_cli: Run, control_plane_stopped: Home, fake_distribution: Callable[..., Path]
) -> None:
    from agentgov.pipelines import control_plane

    fake_distribution("acme-exit", {"acme_exit": EXITS_IN_A_HOOK}, {"exits": "acme_exit"})
    result = run_cli("policies", "list", "--json", env=THROUGH_SERVER)
    assert control_plane.running(control_plane_stopped.root) is not None  # it ran there, and the control plane lives on
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == UNFINISHED.format(how="a plugin or an agent ended the process, for instance with os._exit(0)")


def test_through_the_control_plane_stdin_and_signals_reach_the_command(
    control_plane_stopped: Home, fake_distribution: Callable[..., Path]
) -> None:
    from tests.conftest import agentgov_executable

    fake_distribution("acme-waits", {"acme_waits": WAITS}, {"waits": "acme_waits"})
    read = subprocess.run(
        [agentgov_executable(), "policies", "list"], input="hello\n", capture_output=True, text=True,
        env={**os.environ, **THROUGH_SERVER, "READ_STDIN": "1"}, timeout=120,
    )
    assert read.returncode == 0 and _without_start_line(read.stderr) == "read hello\n", read.stderr

    for name, expected in (("SIGINT", (1, "", "\nAborted!\n")), ("SIGTERM", (-signal.SIGTERM, "", ""))):
        process, worker, sleeper = _started(THROUGH_SERVER, start_new_session=True)
        assert worker != process.pid  # the command runs in the control plane's child
        os.kill(process.pid, getattr(signal, name))
        out, err = process.communicate(timeout=30)
        assert (process.returncode, out, err) == expected
        assert _gone(worker)
        with contextlib.suppress(ProcessLookupError):
            os.kill(sleeper, signal.SIGKILL)

    # Ctrl-Z: the command stops with the caller, and continues with it (fg).
    process, worker, sleeper = _started(THROUGH_SERVER, start_new_session=True)
    os.kill(process.pid, signal.SIGTSTP)
    assert _state_becomes(process.pid, "T") and _state_becomes(worker, "T") and _state_becomes(sleeper, "T")
    os.kill(process.pid, signal.SIGCONT)
    assert _state_becomes(process.pid, "S") and _state_becomes(worker, "S") and _state_becomes(sleeper, "S")
    os.kill(process.pid, signal.SIGTERM)
    process.communicate(timeout=30)
    assert _gone(worker)
    with contextlib.suppress(ProcessLookupError):
        os.kill(sleeper, signal.SIGKILL)

    # The caller killed outright: its command goes with it, as under the supervisor.
    process, worker, sleeper = _started(THROUGH_SERVER, start_new_session=True)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert _gone(worker) and _gone(sleeper)


def _state_becomes(pid: int, state: str, within: float = 5.0) -> bool:
    """Whether process ``pid``'s state (/proc's letter: T stopped, S sleeping) becomes ``state`` in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == state:
            return True
        time.sleep(0.05)
    return False


def test_no_server_and_a_folder_without_a_home_run_in_process(run_cli: Run, agentgov_home: Home, tmp_path: Path) -> None:
    from agentgov.pipelines import control_plane

    assert run_cli("--no-server", "agents", env=THROUGH_SERVER, check=True).stderr == ""
    assert control_plane.read_state(agentgov_home.root) is None and not (agentgov_home.root / "server").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("agents", env={**THROUGH_SERVER, "AGENTGOV_HOME": str(elsewhere / "no-home")})
    assert "control plane" not in result.stderr and not (elsewhere / "no-home" / "server").exists()
