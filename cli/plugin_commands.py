"""``agentgov plugins list`` and ``agentgov plugins new``.

``agentgov plugin new`` is the old spelling of ``plugins new``: a hidden alias
that still works for one release and says so on stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say


@click.group()
def plugins() -> None:
    """Inspect installed and built-in plugins, or start a new one."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins_list(state: State, as_json: bool) -> None:
    """List every plugin: where it came from, its hooks, what it provides, and any error."""
    from agentgov.deploy import DEPLOY_TARGETS
    from agentgov.evals import EVALUATORS
    from agentgov.policies import POLICIES
    from agentgov.registry.runtime import CONNECTORS

    manager = state.plugins
    provides: dict[str, list[str]] = {}
    for kind in (POLICIES, EVALUATORS, DEPLOY_TARGETS, CONNECTORS):
        for name, registered in manager.collect(kind).items():
            provides.setdefault(registered.plugin, []).append(f"{kind.name} {name}")
    infos = manager.plugins()  # after collecting, so registration problems are included
    if as_json:
        print_json([{**info.to_dict(), "provides": provides.get(info.name, [])} for info in infos])
        return
    rows = []
    for info in infos:
        origin = "built-in" if info.source == "built-in" else f"{info.distribution or '?'} {info.version or ''}".strip()
        detail = "; ".join(info.problems) if info.problems else ", ".join(provides.get(info.name, []))
        hooks = ", ".join(h.removeprefix("agentgov_") for h in info.hooks)
        rows.append((info.name, origin, info.status, hooks, detail))
    print_table(("Plugin", "From", "Status", "Hooks", "Provides / problems"), rows, title="agentgov plugins")


def _new_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--kind", type=click.Choice(["policy"]), default="policy", show_default=True, help="What the plugin provides.")(command)
    command = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), help="Where to create it (default: ./NAME).")(command)
    return click.argument("name")(command)


@plugins.command("new")
@_new_options
def plugins_new(name: str, directory: Path | None, kind: str) -> None:
    """Create a plugin package NAME: pyproject with the entry point, a working policy to edit, its tests, a README."""
    from agentgov.policies.scaffold import scaffold

    made = scaffold(name, directory, kind)
    say(f"Created plugin {made.name} in {made.root}:")
    for file in made.files:
        say(f"  {file}")
    say(f"Next: edit src/{made.module}/__init__.py, run `python -m pytest` in {made.root}, then `pip install -e {made.root}`;")
    say(f"`agentgov plugins list` then shows {made.name}, and [stages.<stage>.policies.{made.name}] in agentgov.toml turns it on.")


@click.group(hidden=True)
def plugin() -> None:
    """Deprecated: use `agentgov plugins new`."""


@plugin.command("new")
@_new_options
@click.pass_context
def plugin_new(ctx: click.Context, name: str, directory: Path | None, kind: str) -> None:
    """Deprecated spelling of `agentgov plugins new`."""
    click.echo("agentgov: note: `agentgov plugin new` is now `agentgov plugins new`; the old spelling goes in the next release", err=True)
    ctx.invoke(plugins_new, name=name, directory=directory, kind=kind)


COMMANDS = (plugins, plugin)
