"""``agentgov console`` as a user runs it: a port already taken is one line and exit 2, before anything binds."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable

from agentgov.core.home import Home

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_a_taken_port_is_one_line_and_exit_2(agentgov_home: Home, run_cli: Run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("console", "--port", str(port))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "Console on" not in result.stdout
