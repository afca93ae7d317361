"""A crash at any point of an append is recovered by the next writer; tampering is still caught.

Each case starts a real process that appends, stops it at a named point of the
append (``agentgov.core.crashpoints``), kills it with SIGKILL, and then writes
or verifies from this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentgov.core import AuditTampered
from agentgov.core.audit import AuditLog

APPEND = """
import sys
from agentgov.core.audit import AuditLog
AuditLog(sys.argv[1]).append(actor="alice", action="stage.change", subject="router/9", payload={"to": "production"})
"""


EXTEND = """
import sys
from agentgov.core.audit import AuditLog
AuditLog(sys.argv[1]).extend(
    [{"actor": "alice", "action": "stage.change", "subject": f"router/{i}", "payload": {"i": i}} for i in range(3)]
)
"""


def _fill(log: AuditLog, n: int = 3) -> None:
    for i in range(n):
        log.append(actor="alice", action="decision", subject=f"router/{i + 1}", payload={"i": i})


def kill_at(point: str, log: AuditLog, tmp_path: Path, script: str = APPEND) -> None:
    """Run one append (or ``script``) in a new process, stop it at ``point`` and kill -9 it there."""
    marker = tmp_path / f"{point}.paused"
    env = {**os.environ, "AGENTGOV_PAUSE_AT": point, "AGENTGOV_PAUSE_FILE": str(marker)}
    process = subprocess.Popen([sys.executable, "-c", script, str(log.path)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, f"the appending process exited with {process.returncode} before {point}"
            assert time.monotonic() < deadline, f"the appending process never reached {point}"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    _fill(log)
    return log


@pytest.mark.parametrize(
    ("point", "outcome", "kept"),
    [
        ("audit.after-intent", "discarded", False),  # nothing of the record was written
        ("audit.mid-record", "discarded", False),  # half a line: ours, cut off and kept aside
        ("audit.after-append", "completed", True),  # the line is whole; only the head lagged
    ],
)
def test_the_next_append_recovers_a_crash_at_each_point(log: AuditLog, tmp_path: Path, point: str, outcome: str, kept: bool) -> None:
    kill_at(point, log, tmp_path)

    written = log.append(actor="bob", action="decision", subject="router/10")

    records = list(log.records())
    actions = [r.action for r in records]
    assert actions == ["decision"] * 3 + (["stage.change"] if kept else []) + ["audit.recovered", "decision"]
    recovered = next(r for r in records if r.action == "audit.recovered")
    assert recovered.payload["outcome"] == outcome and recovered.payload["interrupted_seq"] == 4
    assert written.seq == len(records)
    assert log.verify().records == len(records)
    assert "pending" not in json.loads(log.head_path.read_text())
    if point == "audit.mid-record":
        torn = log.path.with_name("audit.torn-4.jsonl")
        assert torn.read_bytes() and not torn.read_bytes().endswith(b"\n")


@pytest.mark.parametrize(("point", "outcome"), [("audit.mid-record", "discarded"), ("audit.after-append", "completed")])
def test_a_crash_in_the_middle_of_a_bulk_append_keeps_all_its_records_or_none(
    log: AuditLog, tmp_path: Path, point: str, outcome: str
) -> None:
    kill_at(point, log, tmp_path, script=EXTEND)

    log.append(actor="bob", action="decision", subject="router/10")

    actions = [r.action for r in log.records()]
    kept = ["stage.change"] * 3 if outcome == "completed" else []
    assert actions == ["decision"] * 3 + kept + ["audit.recovered", "decision"]
    recovered = next(r for r in log.records() if r.action == "audit.recovered")
    assert recovered.payload["outcome"] == outcome and recovered.payload["interrupted_seq"] == 6
    assert log.verify().records == len(actions)


def test_verify_alone_recovers_a_crash_and_says_so_in_the_log(log: AuditLog, tmp_path: Path) -> None:
    kill_at("audit.after-append", log, tmp_path)

    assert log.verify().records == 5
    assert [r.action for r in log.records()][-2:] == ["stage.change", "audit.recovered"]


def test_a_record_added_by_hand_without_an_intent_is_still_tampering(log: AuditLog, tmp_path: Path) -> None:
    """A forged record chains correctly, but no writer of ours left an intent for it."""
    other = AuditLog(tmp_path / "copy" / "audit.jsonl")
    other.path.parent.mkdir()
    other.path.write_bytes(log.path.read_bytes())
    other.head_path.write_bytes(log.head_path.read_bytes())
    other.append(actor="mallory", action="decision", subject="router/1", payload={"outcome": "allowed"})
    forged = other.path.read_bytes().splitlines(keepends=True)[-1]
    with open(log.path, "ab") as f:
        f.write(forged)

    with pytest.raises(AuditTampered, match="removed from the end"):
        log.verify()


def test_records_cut_after_a_crash_are_still_tampering(log: AuditLog, tmp_path: Path) -> None:
    kill_at("audit.after-intent", log, tmp_path)
    lines = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(b"".join(lines[:-1]))  # someone removes a committed record as well

    with pytest.raises(AuditTampered, match="shorter than before its last append"):
        log.append(actor="bob", action="decision", subject="router/10")
