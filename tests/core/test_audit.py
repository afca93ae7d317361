from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentgov.core import AuditError, AuditTampered
from agentgov.core.audit import GENESIS, AuditLog, is_secret_key, redact


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit" / "audit.jsonl")


def _fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.append(actor="alice", action="stage.change", subject=f"router/{i + 1}", payload={"to": "shadow", "i": i})


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def _rewrite(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(lines))


def test_records_are_numbered_chained_and_verifiable(log: AuditLog) -> None:
    _fill(log, 3)
    records = list(log.records())
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev == GENESIS
    assert records[1].prev == records[0].hash
    assert records[2].prev == records[1].hash
    assert {"seq", "time", "actor", "action", "subject", "payload", "prev", "hash"} == set(json.loads(_lines(log)[0]))
    result = log.verify()
    assert result.records == 3
    assert result.head == records[2].hash


def test_an_empty_or_missing_log_verifies(log: AuditLog) -> None:
    assert log.verify().records == 0
    assert list(log.records()) == []


def test_records_can_be_filtered_by_agent(log: AuditLog) -> None:
    log.append(actor="a", action="x", subject="router/1")
    log.append(actor="a", action="x", subject="router@production")
    log.append(actor="a", action="x", subject="router-two/1")
    log.append(actor="a", action="x", subject="router")
    assert [r.seq for r in log.records(subject_prefix="router")] == [1, 2, 4]


def test_verify_catches_an_edited_record(log: AuditLog) -> None:
    _fill(log)
    lines = _lines(log)
    lines[2] = lines[2].replace('"actor":"alice"', '"actor":"mallory"')
    _rewrite(log, lines)
    with pytest.raises(AuditTampered, match=r"record 3 \(seq 3\) was edited") as caught:
        log.verify()
    assert caught.value.line == 3


def test_verify_catches_an_edit_that_recomputes_the_record_hash(log: AuditLog) -> None:
    from agentgov.core.audit import _canonical, _digest

    _fill(log)
    lines = _lines(log)
    record = json.loads(lines[1])
    record["payload"]["to"] = "production"
    record["hash"] = _digest(record)
    lines[1] = _canonical(record) + "\n"
    _rewrite(log, lines)
    with pytest.raises(AuditTampered, match=r"record 3 \(seq 3\) does not chain") as caught:
        log.verify()
    assert caught.value.line == 3


def test_verify_catches_a_deleted_record(log: AuditLog) -> None:
    _fill(log)
    lines = _lines(log)
    del lines[1]
    _rewrite(log, lines)
    with pytest.raises(AuditTampered, match="record 2 has seq 3, expected 2: a record is missing"):
        log.verify()


def test_verify_catches_records_cut_from_the_end(log: AuditLog) -> None:
    _fill(log)
    _rewrite(log, _lines(log)[:-2])
    with pytest.raises(AuditTampered, match="ends at record 3 but its head file records 5"):
        log.verify()


def test_verify_catches_an_inserted_record(log: AuditLog) -> None:
    _fill(log)
    lines = _lines(log)
    lines.insert(2, lines[1])
    _rewrite(log, lines)
    with pytest.raises(AuditTampered, match="record 3 has seq 2, expected 3: records were reordered or inserted"):
        log.verify()


def test_verify_catches_reordered_records(log: AuditLog) -> None:
    _fill(log)
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _rewrite(log, lines)
    with pytest.raises(AuditTampered, match="record 2 has seq 3, expected 2"):
        log.verify()


def test_verify_catches_a_file_truncated_mid_record(log: AuditLog) -> None:
    _fill(log)
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-20])
    with pytest.raises(AuditTampered, match="record 5 is incomplete: the file was truncated mid-record") as caught:
        log.verify()
    assert caught.value.line == 5


def test_verify_catches_a_line_that_is_not_json(log: AuditLog) -> None:
    _fill(log)
    lines = _lines(log)
    lines[0] = "not json\n"
    _rewrite(log, lines)
    with pytest.raises(AuditTampered, match="record 1 is not valid JSON"):
        log.verify()


def test_appending_after_a_truncated_record_writes_nothing(log: AuditLog) -> None:
    _fill(log)
    damaged = log.path.read_bytes()[:-20]
    log.path.write_bytes(damaged)
    with pytest.raises(AuditError, match="incomplete"):
        log.append(actor="a", action="x", subject="router")
    assert log.path.read_bytes() == damaged


def test_appending_after_records_were_cut_from_the_end_writes_nothing(log: AuditLog) -> None:
    _fill(log)
    _rewrite(log, _lines(log)[:-1])
    before = log.path.read_bytes()
    with pytest.raises(AuditTampered, match="does not match the head file"):
        log.append(actor="a", action="x", subject="router")
    assert log.path.read_bytes() == before


@pytest.mark.parametrize(
    "key",
    ["password", "db_password", "token", "accessToken", "api_key", "apiKey", "X-API-Key", "client_secret", "secret", "Authorization", "private_key"],
)
def test_secret_looking_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["stage", "author", "tokens_used", "monkey", "description", "keyboard"])
def test_ordinary_keys_are_not_mistaken_for_secrets(key: str) -> None:
    assert not is_secret_key(key)


def test_secrets_are_redacted_before_they_reach_the_file(log: AuditLog) -> None:
    log.append(
        actor="alice",
        action="config.change",
        subject="router",
        payload={"mlflow": {"password": "hunter2", "user": "svc"}, "headers": [{"Authorization": "Bearer abc.def"}], "api_key": None},
    )
    raw = log.path.read_text()
    assert "hunter2" not in raw
    assert "abc.def" not in raw
    payload = next(log.records()).payload
    assert payload == {"mlflow": {"password": "***", "user": "svc"}, "headers": [{"Authorization": "***"}], "api_key": None}
    assert redact({"nested": {"secret": 1}}) == {"nested": {"secret": "***"}}


WRITER = """
import sys
from pathlib import Path
from agentgov.core.audit import AuditLog
log = AuditLog(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    log.append(actor=sys.argv[2], action="stress", subject="router", payload={"i": i})
"""


def test_concurrent_writers_in_four_processes_lose_nothing(log: AuditLog) -> None:
    log.path.parent.mkdir(parents=True)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(log.path), f"writer-{n}", "250"])
        for n in range(4)
    ]
    assert [w.wait(timeout=240) for w in writers] == [0, 0, 0, 0]
    assert log.verify().records == 1000
    records = list(log.records())
    assert [r.seq for r in records] == list(range(1, 1001))
    for n in range(4):  # each writer's records kept their own order
        mine = [r.payload["i"] for r in records if r.actor == f"writer-{n}"]
        assert mine == list(range(250))


def test_extend_appends_many_records_chained_after_the_last_one_and_masked_like_append(log: AuditLog) -> None:
    _fill(log, 2)
    written = log.extend(
        [
            {"actor": "bob", "action": "decision", "subject": "router/3", "payload": {"token": "abc"}},
            {"actor": "bob", "action": "stage.change", "subject": "router/3"},
        ]
    )
    records = list(log.records())
    assert [r.seq for r in written] == [3, 4] and records[2:] == written
    assert written[0].prev == records[1].hash and written[1].prev == written[0].hash
    assert written[0].payload == {"token": "***"} and written[1].payload == {}
    assert log.verify() == log.verify() and log.verify().records == 4
    assert log.append(actor="a", action="x", subject="router").seq == 5  # the head file moved to the batch's end


def test_extend_with_nothing_writes_nothing_and_a_malformed_entry_writes_nothing(log: AuditLog) -> None:
    assert log.extend([]) == [] and not log.path.exists()
    _fill(log, 1)
    before = log.path.read_bytes()
    with pytest.raises(TypeError, match="actor, action, subject"):
        log.extend([{"actor": "a", "action": "x", "subject": "s"}, {"actor": "a", "action": "x"}])
    assert log.path.read_bytes() == before


def test_extend_after_records_were_cut_from_the_end_writes_nothing(log: AuditLog) -> None:
    _fill(log)
    _rewrite(log, _lines(log)[:-1])
    before = log.path.read_bytes()
    with pytest.raises(AuditTampered, match="does not match the head file"):
        log.extend([{"actor": "a", "action": "x", "subject": "router"}] * 3)
    assert log.path.read_bytes() == before


def test_verify_since_an_earlier_result_checks_only_what_was_appended(log: AuditLog) -> None:
    _fill(log, 3)
    earlier = log.verify()
    assert earlier.size == log.path.stat().st_size
    _fill(log, 2)
    resumed = log.verify(since=earlier)
    assert resumed == log.verify() and resumed.records == 5
    assert log.verify(since=resumed) == resumed  # nothing appended: nothing to check


def test_verify_since_an_earlier_result_still_catches_an_edit_among_the_records_it_had_verified(log: AuditLog) -> None:
    _fill(log, 3)
    earlier = log.verify()
    lines = _lines(log)
    _rewrite(log, [lines[0].replace('"shadow"', '"canary"'), *lines[1:]])  # same size
    with pytest.raises(AuditTampered, match=r"record 1 .* was edited"):
        log.verify(since=earlier)
    _rewrite(log, lines)
    _fill(log, 1)
    lines = _lines(log)
    _rewrite(log, [lines[0], lines[1].replace('"shadow"', '"canary"'), *lines[2:]])  # edited, then grown
    with pytest.raises(AuditTampered, match=r"record 2 .* was edited"):
        log.verify(since=earlier)


def test_verify_since_an_earlier_result_catches_records_cut_from_the_end(log: AuditLog) -> None:
    _fill(log, 3)
    earlier = log.verify()
    _rewrite(log, _lines(log)[:-1])
    with pytest.raises(AuditTampered, match="removed from the end"):
        log.verify(since=earlier)
