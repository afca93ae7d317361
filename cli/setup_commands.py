"""``agentgov version``, ``agentgov init`` and ``agentgov config show``."""

from __future__ import annotations

import platform
from pathlib import Path

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say

# The libraries agentgov drives; their versions are read from metadata, never imported.
COMPONENTS = ("mlflow", "prefect", "bentoml", "evidently", "great-expectations", "dvc", "pluggy", "pandas")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def version(as_json: bool) -> None:
    """Print the versions of agentgov and the libraries it drives."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from agentgov.core import __version__

    components = {}
    for name in COMPONENTS:
        try:
            components[name] = installed(name)
        except PackageNotFoundError:
            components[name] = None
    if as_json:
        print_json({"agentgov": __version__, "python": platform.python_version(), "components": components})
        return
    say(f"agentgov {__version__} (Python {platform.python_version()})")
    for name, value in components.items():
        say(f"  {name:<20} {value or 'not installed'}")


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing agentgov.toml with the defaults.")
@click.pass_obj
def init(state: State, force: bool) -> None:
    """Create agentgov.toml in this folder and the home folder it points to."""
    from agentgov.core.config import CONFIG_FILENAME, DEFAULT_CONFIG_TEXT

    path = Path.cwd() / CONFIG_FILENAME
    if path.exists() and not force:
        say(f"Kept the existing {path} (use --force to replace it).")
    else:
        path.write_text(DEFAULT_CONFIG_TEXT, encoding="utf-8")
        say(f"Wrote {path}.")
    created = state.home.create()
    if created:
        state.home.audit_log.append(
            actor=state.config.user,
            action="home.init",
            subject="agentgov",
            payload={"home": str(state.home.root), "config": str(path)},
        )
        say(f"Created the home folder {state.home.root}.")
    else:
        say(f"The home folder {state.home.root} already exists.")
    say("Next: `agentgov plugins list` to see what is installed, `agentgov config show` for the settings.")


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def config_show(state: State, as_json: bool) -> None:
    """Print the effective configuration and where each value came from."""
    rows = state.config.shown()
    if not state.config.prefect_api_url:
        # Unset means "the running `agentgov server` of this home, else embedded": say which it is now.
        from agentgov.pipelines.runtime import local_server_url

        running = local_server_url(state.config)
        if running:
            rows = [(s, running, "agentgov server (running for this home)") if s == "prefect.api_url" else (s, v, src) for s, v, src in rows]
    if as_json:
        print_json([{"setting": s, "value": v, "source": src} for s, v, src in rows])
        return
    print_table(("Setting", "Value", "Source"), rows, title="agentgov configuration")


COMMANDS = (version, init, config)
