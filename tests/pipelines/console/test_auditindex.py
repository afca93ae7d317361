"""The console's in-memory audit log answers as the file reader does, sees what other writers append, never
serves what the file no longer holds, and its resumed verification still catches tampering."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentgov.core import AuditTampered
from agentgov.core.audit import AuditLog
from agentgov.pipelines.console.auditindex import IndexedAuditLog, agent_of

SUBJECTS = ["router", "router/1", "router@production", "router-two/1", "router/2", "audit", "router/2/x"]


@pytest.fixture
def writer(tmp_path: Path) -> AuditLog:
    """Another process's view of the log: the file reader and writer the console's index must agree with."""
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    log.extend(
        [
            {"actor": "ann", "action": "decision" if i % 2 else "stage.change", "subject": s}
            for i, s in enumerate(SUBJECTS)
        ]
    )
    return log


def test_records_match_the_file_reader_for_every_agent_and_subject(writer: AuditLog) -> None:
    indexed = IndexedAuditLog(writer.path)
    for prefix in [None, "router", "router-two", "router/2", "router@production", "audit", "nobody"]:
        assert list(indexed.records(subject_prefix=prefix)) == list(writer.records(subject_prefix=prefix)), prefix
    assert [r.subject for r in indexed.select(agent="router", action="stage.change")] == [
        "router",
        "router@production",
        "router/2",
        "router/2/x",
    ]
    assert [r.seq for r in indexed.select(action="stage.change", newest=2)] == [5, 7]
    assert [agent_of(s) for s in SUBJECTS] == ["router", "router", "router", "router-two", "router", "audit", "router"]


def test_a_record_appended_by_another_writer_shows_on_the_next_read_and_only_it_is_parsed(writer: AuditLog) -> None:
    indexed = IndexedAuditLog(writer.path)
    first = indexed.select()
    writer.append(actor="bob", action="approval", subject="router/2")
    assert [r.actor for r in indexed.select(agent="router", action="approval")] == ["bob"]
    assert list(indexed.records()) == list(writer.records())
    assert all(a is b for a, b in zip(first, indexed.select(), strict=False))  # the same objects: not parsed again


def test_an_edited_or_replaced_log_is_read_again_rather_than_served_from_memory(writer: AuditLog) -> None:
    indexed = IndexedAuditLog(writer.path)
    assert indexed.select(newest=1)[0].actor == "ann"
    text = writer.path.read_text()
    writer.path.write_text(text.replace('"actor":"ann"', '"actor":"eve"', 1))  # same size, in place
    _later(writer.path)
    assert [r.actor for r in indexed.records()] == [r.actor for r in writer.records()]
    assert next(indexed.records()).actor == "eve"
    replacement = writer.path.with_name("new.jsonl")
    replacement.write_text("".join(text.splitlines(keepends=True)[:2]))
    replacement.replace(writer.path)  # a shorter file under the same name
    assert list(indexed.records()) == list(writer.records()) and len(list(indexed.records())) == 2
    writer.path.unlink()
    assert list(indexed.records()) == []


def _later(path: Path) -> None:
    """Set the file's times a second on, as a change after the last read shows (one in the clock tick of that
    read would not: the file's times would not move)."""
    mtime = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(mtime, mtime))


def test_a_line_still_being_written_is_read_once_it_is_whole(writer: AuditLog) -> None:
    indexed = IndexedAuditLog(writer.path)
    line = writer.path.read_bytes().splitlines(keepends=True)[-1]
    with open(writer.path, "ab") as f:
        f.write(line[:10])
        f.flush()
        assert len(indexed.select()) == len(SUBJECTS)
        f.write(line[10:])
    # a copy of the last line: whole now, read as the file reader reads it (verify calls it tampering)
    assert list(indexed.records()) == list(writer.records()) and len(indexed.select()) == len(SUBJECTS) + 1


def test_verify_resumes_after_what_it_verified_and_still_catches_an_edit_or_a_cut(writer: AuditLog) -> None:
    indexed = IndexedAuditLog(writer.path)
    assert indexed.verify().records == len(SUBJECTS)
    writer.append(actor="bob", action="approval", subject="router/2")
    assert indexed.verify() == writer.verify()
    lines = writer.path.read_text().splitlines(keepends=True)
    writer.path.write_text(lines[0].replace('"ann"', '"eve"') + "".join(lines[1:]))  # same size
    with pytest.raises(AuditTampered, match=r"record 1 .* was edited"):
        indexed.verify()
    writer.path.write_text("".join(lines))
    assert indexed.verify().records == len(SUBJECTS) + 1
    writer.path.write_text("".join(lines[:-1]))
    with pytest.raises(AuditTampered, match="removed from the end"):
        indexed.verify()
