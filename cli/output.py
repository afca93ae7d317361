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
    """A table for people. Every cell and the title are plain text: a user's ``[bold]`` or a
    policy's ``[stages.shadow.policies]`` is printed as written, never read as rich markup."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=None if title is None else Text(title), title_justify="left", header_style="bold", show_lines=False)
    for column in columns:
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    # Piped output is read in logs and pagers: give it room instead of rich's 80 columns.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
    Console(file=sys.stdout, soft_wrap=False, width=width).print(table)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 dataset``, ``2 datasets``, ``0 datasets``."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


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
    from rich.text import Text

    with Console(stderr=True).status(Text(message)):
        yield
