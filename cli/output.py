"""Printing for people (rich tables) and for scripts (``--json``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    # Piped output is read in logs and pagers: give it room instead of rich's 80 columns.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
    Console(file=sys.stdout, soft_wrap=False, width=width).print(table)


def say(message: str) -> None:
    click.echo(message)


def warn(message: str) -> None:
    click.echo(f"agentgov: warning: {message}", err=True)


@contextmanager
def status(message: str, *, quiet: bool = False) -> Iterator[None]:
    """A live spinner on stderr for work that takes more than a moment (only on a terminal)."""
    if quiet or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
