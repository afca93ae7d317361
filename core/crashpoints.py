"""Named points in a multi-step write where a crash test can stop the process.

Each durable write sequence (an audit append, a stage move) calls
:func:`reached` between its steps. Normally that costs one dictionary look-up.
With ``AGENTGOV_PAUSE_AT=<point>`` and ``AGENTGOV_PAUSE_FILE=<path>`` in the
environment, the process writes its pid to the file when it reaches that point
and then sleeps, so a test can ``kill -9`` it exactly there and show that the
next command recovers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "AGENTGOV_PAUSE_AT"
PAUSE_FILE = "AGENTGOV_PAUSE_FILE"


def reached(point: str) -> None:
    """Pause here forever if a crash test asked to (see the module docstring)."""
    if os.environ.get(PAUSE_AT) != point:
        return
    marker = os.environ.get(PAUSE_FILE)
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    while True:  # until the test kills the process
        time.sleep(3600)
