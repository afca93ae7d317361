"""Text for one-line messages: values shortened so an error stays one readable line."""

from __future__ import annotations

from typing import Any


def shorten(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters, ending in ``...`` when cut."""
    return text if len(text) <= width else text[: width - 3] + "..."


def short_repr(value: Any, width: int = 60) -> str:
    """``repr(value)``, shortened."""
    return shorten(repr(value), width)
