"""``agentgov manifest schema`` and ``agentgov manifest check``."""

from __future__ import annotations

from pathlib import Path

import click

from agentgov.cli.output import print_json, say


@click.group()
def manifest() -> None:
    """Validate agent manifests (agent.yaml)."""


@manifest.command("schema")
def schema() -> None:
    """Print the JSON Schema of agent.yaml, for editors and CI."""
    from agentgov.registry.manifest import manifest_json_schema

    print_json(manifest_json_schema())


@manifest.command("check")
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
def check(path: Path) -> None:
    """Validate PATH: an agent.yaml, or a folder holding one (default: this folder)."""
    from agentgov.registry.manifest import load_manifest

    found = load_manifest(path)
    say(f"OK: {found.name} ({_count(found.connectors, 'connector')}, {_count(found.datasets, 'dataset')})")


def _count(items: list[object], noun: str) -> str:
    return f"{len(items)} {noun}" + ("" if len(items) == 1 else "s")


COMMANDS = (manifest,)
