"""The ``agentgov`` command group, its error handling and logging.

Commands live in their own modules and import engines inside the command
body, so ``agentgov --help`` imports no heavy library.

Exit status 0 means the command finished. Plugins and agents run inside
agentgov's process, and one that calls ``sys.exit(0)`` or ``os._exit(0)``
would otherwise end the command early with status 0 and nothing done. A
``sys.exit`` is caught where plugin code is called (the loader, the hook
guards, the policy runner) and, as a last resort, around the command
(:class:`AgentgovGroup`). ``os._exit`` cannot be caught, so the console script
runs each command in a forked child (:func:`_supervise`): the parent only waits,
passes signals on and relays the child's exit status, unless the child ended
with status 0 without first saying it had finished, which is reported as a
one-line error with status 1. ``AGENTGOV_SUPERVISE=0`` runs the command in
one process, as before.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import traceback
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from agentgov.core.errors import AgentgovError

if TYPE_CHECKING:
    from agentgov.core.config import Config
    from agentgov.core.home import Home
    from agentgov.core.plugins import PluginManager


@dataclass
class State:
    """What every command may need, loaded on first use."""

    debug: bool = False

    @cached_property
    def config(self) -> Config:
        from agentgov.core.config import load_config

        return load_config()

    @cached_property
    def home(self) -> Home:
        from agentgov.core.home import Home

        return Home.configured(self.config, self.plugins)

    @cached_property
    def plugins(self) -> PluginManager:
        from agentgov.core.plugins import load_plugins

        return load_plugins(self.config)


class UserError(click.ClickException):
    """An :class:`AgentgovError` on its way out: one line, its own exit code."""

    def __init__(self, error: AgentgovError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"agentgov: error: {self.message}", err=True)


NO_SERVER = "AGENTGOV_NO_SERVER"

UNFINISHED = "the command ended before it finished ({how}); nothing is certain to have been recorded"


class AgentgovGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise  # a command's own way to exit 1 (a blocked promotion) or a failure anyway
            # Commands finish by returning: a status-0 exit from inside one is plugin or agent code ending it early.
            click.echo(f"agentgov: error: {UNFINISHED.format(how=_where(exc))}", err=True)
            ctx.exit(1)
        except AgentgovError as exc:
            if _debug(ctx):
                traceback.print_exc()
            raise UserError(exc) from exc
        except Exception as exc:
            if _debug(ctx):
                raise
            click.echo(
                f"agentgov: internal error: {type(exc).__name__}: {exc} "
                "(run again with --debug for the traceback, and please report it)",
                err=True,
            )
            ctx.exit(1)


def _where(exc: BaseException) -> str:
    """``sys.exit(0) at /path/plugin.py:12``: the deepest frame of the exit's traceback."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = "" if getattr(exc, "code", None) is None else repr(exc.code)
    return f"sys.exit({code}) was called" + (f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "")


def _debug(ctx: click.Context) -> bool:
    state = ctx.find_object(State)
    return bool(state and state.debug)


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"agentgov: {record.levelname.lower()}: {record.getMessage()}"


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    logger = logging.getLogger("agentgov")
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        logger.setLevel(logging.DEBUG)
    else:
        handler.setFormatter(_OneLine())
        logger.setLevel(logging.WARNING)
        # Libraries' warnings (MLflow's type-hint advice, deprecations) are not the user's to fix.
        warnings.simplefilter("ignore")
        warnings.showwarning = lambda *args, **kwargs: None  # also where a library resets the filters
    logger.handlers[:] = [handler]
    logger.propagate = False


@click.group(cls=AgentgovGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, envvar="AGENTGOV_DEBUG", help="Show debug logs and full tracebacks.")
@click.option(
    "--no-server", is_flag=True, envvar=NO_SERVER,
    help="Run the command in this process, not in the home's warm control plane (`agentgov server`).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, no_server: bool) -> None:
    """agentgov: govern AI agents from registration to production.

    Register agent versions, gate every promotion through policy plugins,
    roll out through shadow and canary, and keep a tamper-evident audit log.
    """
    ctx.obj = State(debug=debug)
    _configure_logging(debug)


def _register_commands() -> None:
    from agentgov.cli import (
        audit_commands,
        console_commands,
        data_commands,
        demo_commands,
        drift_commands,
        eval_commands,
        gateway_commands,
        history_commands,
        manifest_commands,
        monitor_commands,
        plugin_commands,
        policy_commands,
        registry_commands,
        rollout_commands,
        server_commands,
        serving_commands,
        setup_commands,
    )

    modules = (
        setup_commands,
        demo_commands,
        registry_commands,
        manifest_commands,
        data_commands,
        drift_commands,
        monitor_commands,
        policy_commands,
        eval_commands,
        history_commands,
        serving_commands,
        gateway_commands,
        rollout_commands,
        server_commands,
        plugin_commands,
        audit_commands,
        console_commands,
    )
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """The ``agentgov`` console script (``argv`` given: run in this process, as tests do).

    The console script first offers the command to the home's control plane
    (:func:`_relay`), which runs it in a warm forked child with this process's
    terminal; ``--no-server`` or ``AGENTGOV_NO_SERVER=1`` runs it here, as does
    any failure to start or reach the control plane (with a one-line warning).
    """
    if argv is None:
        relayed = _relay_to_control_plane(sys.argv[1:])
        if relayed is not None:
            _exit(relayed)
    done = _supervise() if argv is None and _supervised() else None
    code = _run(argv)
    if done is not None:
        os.write(done, bytes([code & 0xFF]))  # "finished", with the status it means to exit with (left open: see _supervise)
    _exit(code)


def _exit(code: int) -> None:
    """Exit with ``code``; freezing the objects first keeps the collector from walking them all at teardown (about a second)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    gc.freeze()
    sys.exit(code)


def _run(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="agentgov", auto_envvar_prefix=None)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)  # what the interpreter does with sys.exit("message")
        return 1
    return 0


# -- the supervisor: exit status 0 only when the command finished -------------------------------------------

SUPERVISE = "AGENTGOV_SUPERVISE"


def _supervised() -> bool:
    import signal

    return os.name == "posix" and hasattr(os, "fork") and hasattr(signal, "sigwaitinfo") and os.environ.get(SUPERVISE, "1") != "0"


def _supervise() -> int:
    """Fork. The child returns the descriptor on which it says it finished; the parent never returns.

    Signals reach the command exactly as they reached agentgov before:

    * with a controlling terminal, the child stays in agentgov's process group,
      so Ctrl-C, Ctrl-\\ and a hang-up reach it straight from the terminal (the
      parent does not pass those on); Ctrl-Z stops both and ``fg`` continues
      both; a signal someone sends the parent (``kill PID``) is passed on to the
      child;
    * without one (scripts, services, tests), the child leads a process group of
      its own, and every signal the parent gets, for itself or its group, is
      passed on to that group once: to the command and what it started, as a
      signal to agentgov's group reached them before.

    If the parent is killed (``kill -9``), the child is killed with it, and
    without a terminal its process group too (Linux's parent-death signal;
    elsewhere it may run on). The child's exit status is
    the parent's; a child killed by a signal kills the parent with the same signal.
    """
    import signal

    relayed = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTSTP, signal.SIGCONT}
    waited = relayed | {signal.SIGCHLD}
    terminal = _has_terminal()
    finished_r, finished_w = os.pipe()
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    gc.freeze()  # what is loaded so far stays out of the child's collections: fewer pages copied on write
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, waited)  # nothing is lost between the fork and the wait
    child = os.fork()
    if child == 0:
        os.close(finished_r)
        if not terminal:
            os.setpgid(0, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        _die_with(parent, group=not terminal)
        # What the command forks (an isolated policy) cannot say "finished"; the descriptor stays open until exit, so its number is never reused.
        os.register_at_fork(after_in_child=lambda: _close(finished_w))
        return finished_w

    os.close(finished_w)
    if not terminal:
        try:
            os.setpgid(child, child)
        except OSError:  # it already did, or already ended
            pass
    while True:
        info = signal.sigwaitinfo(waited)
        if info.si_signo == signal.SIGCHLD:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid == child:
                break
            continue
        if terminal and info.si_code == _SI_KERNEL:
            if info.si_signo == signal.SIGTSTP:
                os.kill(os.getpid(), signal.SIGSTOP)  # the terminal stopped the child too: stop as a job does
            continue  # sent by the terminal to the whole group: the child has it already
        try:
            if terminal:
                os.kill(child, info.si_signo)
            else:
                os.killpg(child, info.si_signo)
        except OSError:
            pass
        if info.si_signo == signal.SIGTSTP:
            os.kill(os.getpid(), signal.SIGSTOP)
    _relay(status, finished_r)


_SI_KERNEL = 0x80  # Linux's si_code for a signal the kernel sent (a terminal's Ctrl-C, a hang-up)


def _has_terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _die_with(parent: int, *, group: bool) -> None:
    """Ask the kernel to signal this process when the supervising parent dies (Linux), and die of it.

    With a process group of its own (``group``), the command takes that group
    with it (what it started there, such as the Evidently UI), as a kill of
    agentgov's group did before; otherwise the group was agentgov's already.
    """
    import signal

    if group:
        death = signal.SIGRTMIN + 3  # caught here, not by anything the command might install
        signal.signal(death, lambda *_: os.killpg(0, signal.SIGKILL))
    else:
        death = signal.SIGKILL
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, death)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _relay(status: int, finished: int) -> None:
    """Exit as the child did; a status 0 without "finished" is an error."""
    import signal

    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal that does not kill (it should not get here)
    code = os.waitstatus_to_exitcode(status)
    os.set_blocking(finished, False)
    try:
        said = os.read(finished, 1)
    except BlockingIOError:
        said = b""
    if said:
        code = code or said[0]  # it finished; a later os._exit(0) (an atexit hook) does not hide a failure
    elif code == 0:
        how = "a plugin or an agent ended the process, for instance with os._exit(0)"
        os.write(2, f"agentgov: error: {UNFINISHED.format(how=how)}\n".encode())
        code = 1
    os._exit(code)


# -- the control plane: the command runs in a warm child of the home's `agentgov server` ----------------

_TRUE = {"1", "true", "yes", "on"}
# Commands that never go to the control plane: they manage it, make the home (or a demo's), or answer at once.
_IN_PROCESS = {"server", "init", "version", "demo"}
_SERVE = "import sys, agentgov.cli.main; from agentgov.cli.server_commands import serve_main; serve_main(sys.argv[1:])"


def _wants_control_plane(args: list[str]) -> bool:
    if os.environ.get(NO_SERVER, "").strip().lower() in _TRUE or os.name != "posix" or not hasattr(os, "fork"):
        return False
    import socket

    if not hasattr(socket, "send_fds"):
        return False
    command = next((a for a in args if not a.startswith("-")), None)
    leading = args[: args.index(command)] if command is not None else args
    if command is None or command in _IN_PROCESS or "--no-server" in leading:
        return False
    return not any(a in ("--help", "-h") for a in args)


def _relay_to_control_plane(args: list[str]) -> int | None:
    """Run the command in the home's control plane (starting it if needed); its exit code, or None to run it here."""
    if not _wants_control_plane(args):
        return None
    from agentgov.core.config import load_config
    from agentgov.pipelines import control_plane as plane

    try:
        config = load_config()
    except Exception:
        return None
    if not config.home.is_dir():
        return None  # no home yet: the command itself says so (or makes it); nothing is left behind
    fp = plane.fingerprint()
    for attempt in range(2):
        state = plane.running(config.home)
        if state is not None and state.fingerprint != fp:
            plane.retire(config.home)  # stale code or plugins: never used (its running commands finish)
            state = None
        if state is None:
            state = _start_control_plane(config, fp, quiet="--json" in args)
            if state is None:
                return None
        token = plane.read_token(config.home) or ""
        try:
            outcome = plane.relay(state, token, args, fp)
        except plane.ControlPlaneError as exc:
            if attempt == 0 and plane.running(config.home) is None:
                continue  # it stopped (idle) just now: start a fresh one
            _warn(f"{exc}; running the command in this process")
            return None
        if outcome.refused:
            if attempt == 0:
                continue  # replaced meanwhile (a new token or fingerprint): once more
            _warn(f"the control plane refused the command ({outcome.refused}); running it in this process")
            return None
        return _verdict(outcome, state.pid)
    return None


def _start_control_plane(config: Config, fp: str, *, quiet: bool) -> Any:
    import time

    from agentgov.pipelines import control_plane as plane

    terminal = sys.stderr.isatty()
    line = f"agentgov: starting the control plane for {config.home} (once; --no-server skips it)"
    if not quiet:
        sys.stderr.write(line + ("..." if terminal else "\n"))
        sys.stderr.flush()
    began = time.monotonic()
    env = {**os.environ, "AGENTGOV_HOME": str(config.home), SUPERVISE: "0", NO_SERVER: "1"}
    if config.path is not None:
        env["AGENTGOV_CONFIG"] = str(config.path)
    try:
        pid = plane.spawn(config.home, [sys.executable, "-c", _SERVE, "--idle-timeout", str(config.server_idle_timeout)], env)
        state = plane.wait_until_running(config.home, fp, pid)
    except (OSError, plane.ControlPlaneError) as exc:
        if not quiet and terminal:
            sys.stderr.write("\r\033[K")
        _warn(f"could not start the control plane ({exc}); running the command in this process")
        return None
    if not quiet and terminal:
        sys.stderr.write("\r\033[K")  # the status line goes once it is up, as a spinner's does
        sys.stderr.flush()
    logging.getLogger("agentgov.cli").debug("control plane %s up in %.2f s", state.pid, time.monotonic() - began)
    return state


def _warn(message: str) -> None:
    sys.stderr.write(f"agentgov: warning: {message}\n")
    sys.stderr.flush()


def _verdict(outcome: Any, server_pid: int) -> int:
    """The exit code of a relayed command, by the supervisor's rules: status 0 only when it finished."""
    import signal

    if outcome.lost:
        os.write(2, f"agentgov: error: the control plane (pid {server_pid}) ended before the command finished; "
                    "nothing is certain to have been recorded (the next command starts a fresh one)\n".encode())
        return 1
    if outcome.signal:
        if outcome.finished:
            return 128 + outcome.signal  # it finished, then something killed it on the way out
        number = outcome.signal
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        return 128 + number
    code = int(outcome.code or 0)
    if code == 0 and not outcome.finished:
        how = "a plugin or an agent ended the process, for instance with os._exit(0)"
        os.write(2, f"agentgov: error: {UNFINISHED.format(how=how)}\n".encode())
        return 1
    return code


def run_in_child(argv: list[str], finished: int) -> int:
    """What a control plane's forked child runs: the command as the in-process path runs it, then "finished"."""
    if "prefect.context" in sys.modules:
        sys.modules["prefect.context"].refresh_global_settings_context()  # the caller's PREFECT_* variables, not the server's
    logging.getLogger("agentgov").handlers[:] = []
    warnings.resetwarnings()
    os.register_at_fork(after_in_child=lambda: _close(finished))  # what the command forks cannot say "finished"
    sys.argv = ["agentgov", *argv]
    code = _run(argv)
    os.write(finished, bytes([code & 0xFF]))
    return code


def warm_up(config: Config) -> PluginManager | None:
    """What the control plane imports once so its children need not: the libraries, the flows, the plugins.

    The plugins it loaded, or None when they could not be loaded.
    """
    import importlib

    for module in (
        "mlflow", "mlflow.tracking", "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store",
        "mlflow.pyfunc", "prefect", "prefect.flow_engine", "prefect.client.orchestration",
        "agentgov.registry.backend", "agentgov.registry.store", "agentgov.registry.stages", "agentgov.registry.history",
        "agentgov.pipelines.register_agent", "agentgov.pipelines.promote", "agentgov.pipelines.runtime",
        "rich.console", "rich.table",
    ):
        try:
            importlib.import_module(module)
        except Exception as exc:
            logging.getLogger("agentgov.cli").warning("control plane: could not import %s: %s", module, exc)
    try:
        from agentgov.registry.backend import connect, quiet

        with quiet():  # opens (and caches) MLflow's stores: their schema check is done once here, not per command
            connect(config).search_registered_models(max_results=1)
    except Exception as exc:
        logging.getLogger("agentgov.cli").warning("control plane: could not open the MLflow store: %s", exc)
    try:
        from agentgov.core.plugins import load_plugins

        return load_plugins(config)  # imports the built-in and installed plugin modules
    except Exception as exc:
        logging.getLogger("agentgov.cli").warning("control plane: could not load the plugins: %s", exc)
        return None


if __name__ == "__main__":  # pragma: no cover
    main()
