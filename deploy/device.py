"""Which device a served agent's model runs on, decided once at start-up.

CUDA when torch is importable and ``torch.cuda.is_available()``; otherwise the
CPU, never an error, with the reason. The decision is exported to the agent's
process as ``AGENTGOV_DEVICE`` (``cuda`` or ``cpu``) for its code to read.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEVICE_VARIABLE = "AGENTGOV_DEVICE"


@dataclass(frozen=True)
class Device:
    """``cuda`` or ``cpu``, and why."""

    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"device": self.name, "reason": self.reason}


def choose_device(import_torch: Callable[[], Any] | None = None) -> Device:
    """CUDA if torch sees a device, else the CPU; ``import_torch`` (tests) replaces ``import torch``."""
    if import_torch is None:
        if importlib.util.find_spec("torch") is None:
            return Device("cpu", "torch is not installed")
        import_torch = lambda: importlib.import_module("torch")  # noqa: E731
    try:
        torch = import_torch()
    except Exception as exc:  # a broken torch install: the agent still runs, on the CPU
        return Device("cpu", f"torch could not be imported ({type(exc).__name__}: {exc})")
    version = getattr(torch, "__version__", "?")
    try:
        available = bool(torch.cuda.is_available())
    except Exception as exc:
        return Device("cpu", f"torch {version} could not query CUDA ({type(exc).__name__}: {exc})")
    if not available:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hidden = " (CUDA_VISIBLE_DEVICES is empty)" if visible is not None and not visible.strip() else ""
        return Device("cpu", f"torch {version}: torch.cuda.is_available() is False{hidden}")
    count = int(torch.cuda.device_count())
    try:
        label = str(torch.cuda.get_device_name(0))
    except Exception:
        label = "device 0"
    return Device("cuda", f"torch {version} sees {count} CUDA device{'s' if count != 1 else ''} ({label})")
