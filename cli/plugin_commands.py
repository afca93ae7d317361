"""``agentgov plugins list``."""

from __future__ import annotations

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table


@click.group()
def plugins() -> None:
    """Inspect installed and built-in plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins_list(state: State, as_json: bool) -> None:
    """List every plugin: where it came from, its hooks, what it provides, and any error."""
    from agentgov.deploy import DEPLOY_TARGETS
    from agentgov.evals import EVALUATORS
    from agentgov.policies import POLICIES

    manager = state.plugins
    provides: dict[str, list[str]] = {}
    for kind in (POLICIES, EVALUATORS, DEPLOY_TARGETS):
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


COMMANDS = (plugins,)
