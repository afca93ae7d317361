"""The ``agentgov`` command group, its error handling and logging.

Commands live in their own modules and import engines inside the command
body, so ``agentgov --help`` imports no heavy library.
"""

from __future__ import annotations

import logging
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


class AgentgovGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
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
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """agentgov: govern AI agents from registration to production.

    Register agent versions, gate every promotion through policy plugins,
    roll out through shadow and canary, and keep a tamper-evident audit log.
    """
    ctx.obj = State(debug=debug)
    _configure_logging(debug)


def _register_commands() -> None:
    from agentgov.cli import (
        audit_commands,
        data_commands,
        drift_commands,
        eval_commands,
        history_commands,
        manifest_commands,
        plugin_commands,
        policy_commands,
        registry_commands,
        server_commands,
        setup_commands,
    )

    modules = (
        setup_commands,
        registry_commands,
        manifest_commands,
        data_commands,
        drift_commands,
        policy_commands,
        eval_commands,
        history_commands,
        server_commands,
        plugin_commands,
        audit_commands,
    )
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="agentgov", auto_envvar_prefix=None)


if __name__ == "__main__":  # pragma: no cover
    main()
