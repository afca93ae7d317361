"""The audit log: append-only, hash-chained JSON Lines.

Each line is one record with a sequence number, the time, who did what to
which subject, a payload, the SHA-256 of the previous record (``prev``) and
its own (``hash``). A small head file next to the log holds the last
sequence number and hash, so that records cut from the end are noticed too.

An append is three durable steps: the head file first records the intended
record (its seq, hash and the log's size before it), then the line is
appended, then the head moves to it. A crash between two steps leaves an
intent that only this writer could have left, so the next writer (or
``agentgov audit verify``) completes the append or removes its partial line,
and records what it did as an ``audit.recovered`` record. A log that disagrees
with its head *without* such an intent was edited or truncated: that is
still reported as tampering.

:meth:`AuditLog.extend` appends many records as one such append: one intent
(naming the last of them), one write, one ``fsync``; after a crash the next
writer completes all of them or none.

Appends take an exclusive ``flock`` on a lock file, so writers in several
processes never interleave, reorder or lose a record. Keys that look like
secrets are redacted, and values that look like credentials or personal data
masked (:mod:`agentgov.core.masking`), before anything is written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgov.core.crashpoints import reached
from agentgov.core.errors import AuditError, AuditTampered
from agentgov.core.masking import DEFAULT_MASKER, Masker
from agentgov.core.types import utcnow

GENESIS = "0" * 64
REDACTED = "***"
_FIELDS = ("seq", "time", "actor", "action", "subject", "payload", "prev", "hash")
_SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "token", "secret", "key", "apikey",
     "credential", "credentials", "authorization", "auth", "cookie", "private"}
)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: str
    actor: str
    action: str
    subject: str
    payload: Mapping[str, Any]
    prev: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


@dataclass(frozen=True)
class Verified:
    """What :meth:`AuditLog.verify` checked: ``records`` records ending with the hash ``head``, which are the
    file's first ``size`` bytes, whose SHA-256 is ``digest`` (so a later verify can resume after them)."""

    records: int
    head: str
    size: int = 0
    digest: str = ""


def is_secret_key(key: str) -> bool:
    """True for keys named like a secret: ``password``, ``api_key``, ``accessToken``..."""
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower())
    return any(word in _SECRET_WORDS for word in words)


def redact(value: Any) -> Any:
    """A copy of ``value`` with the values of secret-looking keys replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if is_secret_key(str(k)) and v is not None else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def _canonical(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(record: Mapping[str, Any]) -> str:
    body = {k: record[k] for k in _FIELDS if k != "hash"}
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


class AuditLog:
    """The audit log at ``path`` (``<home>/audit/audit.jsonl`` by default)."""

    def __init__(self, path: Path, masker: Masker | None = None) -> None:
        self.path = Path(path)
        self.masker = masker or DEFAULT_MASKER
        self.head_path = self.path.with_suffix(".head")
        self.lock_path = self.path.with_suffix(".lock")

    # -- writing ------------------------------------------------------------

    def append(self, *, actor: str, action: str, subject: str, payload: Mapping[str, Any] | None = None) -> AuditRecord:
        """Append one record and return it. Safe across processes, and across a crash at any point."""
        (record,) = self.extend([{"actor": actor, "action": action, "subject": subject, "payload": payload}])
        return record

    def extend(self, entries: Iterable[Mapping[str, Any]]) -> list[AuditRecord]:
        """Append records in order and return them: each entry holds ``actor``, ``action``, ``subject`` and
        optionally ``payload``, as :meth:`append` takes them.

        The records are chained and written as :meth:`append` writes one, under one lock with one intent, one
        write and one ``fsync``: after a crash the next writer completes all of them or none.
        """
        batch = [_entry(entry) for entry in entries]
        if not batch:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._recover()
            return self._extend(batch)

    def _extend(self, batch: list[dict[str, Any]]) -> list[AuditRecord]:
        """Under the lock: chain ``batch`` after the last record and write it durably (see the module docstring)."""
        tail_seq, tail_hash = self._tail()
        last_seq, last_hash = tail_seq, tail_hash
        bodies = []
        for entry in batch:
            body = {
                "seq": last_seq + 1,
                "time": utcnow().isoformat(),
                "actor": entry["actor"],
                "action": entry["action"],
                "subject": entry["subject"],
                "payload": self.masker.value(redact(dict(entry["payload"] or {}))),
                "prev": last_hash,
            }
            # Round-trip so the hash is computed over exactly what a reader will parse.
            body = json.loads(_canonical(body))
            body["hash"] = _digest(body)
            bodies.append(body)
            last_seq, last_hash = body["seq"], body["hash"]
        data = "".join(_canonical(body) + "\n" for body in bodies).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            intent = {"seq": last_seq, "hash": last_hash, "offset": os.fstat(fd).st_size}
            self._write_head(tail_seq, tail_hash, pending=intent)
            reached("audit.after-intent")
            half = len(data) // 2
            _write_all(fd, data[:half])
            reached("audit.mid-record")
            _write_all(fd, data[half:])
            os.fsync(fd)
        finally:
            os.close(fd)
        reached("audit.after-append")
        self._write_head(last_seq, last_hash)
        return [AuditRecord(**body) for body in bodies]

    def recover(self) -> str | None:
        """Finish or undo an append that a crash interrupted; what was done, or ``None`` if nothing was pending."""
        if not self.head_path.exists():
            return None
        with self._locked():
            return self._recover()

    def _recover(self) -> str | None:
        """Under the lock: complete or discard the intent left in the head file by an interrupted append."""
        head = self._read_head_file()
        pending = head.get("pending") if head else None
        if not pending:
            return None
        try:
            seq, digest, offset = int(pending["seq"]), str(pending["hash"]), int(pending["offset"])
        except (KeyError, TypeError, ValueError):
            raise AuditError(f"{self.head_path}: unreadable head file; run `agentgov audit verify`") from None
        size = self.path.stat().st_size if self.path.exists() else 0
        if size < offset:
            raise AuditTampered(
                f"{self.path}: the log is shorter than before its last append was begun: records were removed from the end",
                line=seq,
            )
        with open(self.path, "rb") as f:
            f.seek(offset)
            written = f.read()
        first = int(head["seq"]) + 1
        if _completes(written, after=(first - 1, str(head["hash"])), ends=(seq, digest)):
            self._write_head(seq, digest)
            outcome = "completed"
            detail = (
                f"record {seq} was written before the crash; the head file now records it" if first == seq
                else f"records {first} to {seq} were written before the crash; the head file now records them"
            )
        else:
            if written:
                # Our own partial line (we held the lock): keep the bytes for a person, then cut them.
                torn = self.path.with_name(f"{self.path.stem}.torn-{seq}{self.path.suffix}")
                torn.write_bytes(written)
                with open(self.path, "r+b") as f:
                    f.truncate(offset)
                    os.fsync(f.fileno())
            self._write_head(int(head["seq"]), str(head["hash"]))
            outcome = "discarded"
            detail = (
                f"record {seq} was cut off mid-write ({len(written)} bytes kept in {torn.name})" if written
                else f"record {seq} was never written"
            )
        self._extend(
            [
                {
                    "actor": "agentgov",
                    "action": "audit.recovered",
                    "subject": "audit",
                    "payload": {"interrupted_seq": seq, "outcome": outcome, "detail": detail},
                }
            ]
        )
        return f"{outcome}: {detail}"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _tail(self) -> tuple[int, str]:
        """(seq, hash) of the last record, refusing to write after a damaged end."""
        head = self._read_head()
        last = self._last_line()
        if last is None:
            if head is not None:
                raise AuditTampered(
                    f"{self.path}: the log is empty but its head records {head[0]} records; run `agentgov audit verify`",
                    line=1,
                )
            return 0, GENESIS
        if not last.endswith(b"\n"):
            raise AuditError(
                f"{self.path}: the last record is incomplete (file truncated?); "
                "nothing was written; run `agentgov audit verify`"
            )
        try:
            record = json.loads(last)
            seq, digest = int(record["seq"]), str(record["hash"])
        except (ValueError, KeyError, TypeError):
            raise AuditError(f"{self.path}: the last record is not valid; run `agentgov audit verify`") from None
        if head is not None and head != (seq, digest):
            raise AuditTampered(
                f"{self.path}: the last record (seq {seq}) does not match the head file (seq {head[0]}); "
                "records were removed or changed; run `agentgov audit verify`",
                line=seq,
            )
        return seq, digest

    def _last_line(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                end = f.tell()
                if end == 0:
                    return None
                block = 4096
                position = end
                data = b""
                while position > 0:
                    step = min(block, position)
                    position -= step
                    f.seek(position)
                    data = f.read(step) + data
                    # the last line starts after the last newline that is not the final byte
                    cut = data.rfind(b"\n", 0, len(data) - 1)
                    if cut != -1:
                        return data[cut + 1:]
                return data
        except FileNotFoundError:
            return None

    def _read_head(self) -> tuple[int, str] | None:
        data = self._read_head_file()
        return None if data is None else (int(data["seq"]), str(data["hash"]))

    def _read_head_file(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.head_path.read_text(encoding="utf-8"))
            int(data["seq"]), str(data["hash"])
            return data
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            raise AuditError(f"{self.head_path}: unreadable head file; run `agentgov audit verify`") from None

    def _write_head(self, seq: int, digest: str, *, pending: Mapping[str, Any] | None = None) -> None:
        head: dict[str, Any] = {"seq": seq, "hash": digest}
        if pending is not None:
            head["pending"] = dict(pending)
        temporary = self.head_path.with_suffix(".head.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            _write_all(fd, json.dumps(head).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.head_path)

    # -- reading ------------------------------------------------------------

    def records(self, *, subject_prefix: str | None = None) -> Iterator[AuditRecord]:
        """Parsed records in order. Use :meth:`verify` to check them."""
        try:
            f = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            return
        with f:
            for number, line in enumerate(f, start=1):
                record = self._record(line, number)
                if subject_prefix is None or is_about(record.subject, subject_prefix):
                    yield record

    def _record(self, line: str | bytes, number: int) -> AuditRecord:
        """The record on line ``number``; :class:`AuditError` naming the file and line when it is not one."""
        try:
            return AuditRecord(**json.loads(line))
        except (ValueError, TypeError):
            raise AuditError(f"{self.path}, line {number}: not a valid audit record; run `agentgov audit verify`") from None

    def verify(self, *, since: Verified | None = None) -> Verified:
        """Check every record and the chain. Raises :class:`AuditTampered` at the first bad one.

        An append that a crash interrupted is first completed or undone (:meth:`recover`). With ``since`` (an
        earlier result for this file), the records it covered are not checked again when the file still starts
        with exactly the bytes it verified (their SHA-256); otherwise everything is.
        """
        self.recover()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        view = memoryview(data)
        expected_prev, expected_seq, count, start = GENESIS, 1, 0, 0
        digest = hashlib.sha256()
        if since is not None and 0 < since.size <= len(data):
            digest.update(view[: since.size])
            if digest.hexdigest() == since.digest:
                expected_prev, expected_seq, count, start = since.head, since.records + 1, since.records, since.size
            else:
                digest = hashlib.sha256()
        lines = data[start:].split(b"\n")
        trailing = lines.pop()  # b"" when the file ends with a newline
        for number, raw in enumerate(lines, start=count + 1):
            record = self._parse(raw, number)
            if record["hash"] != _digest(record):
                raise AuditTampered(f"record {number} (seq {record['seq']}) was edited: its hash does not match its content", line=number)
            if record["seq"] != expected_seq:
                what = "a record is missing before it" if record["seq"] > expected_seq else "records were reordered or inserted"
                raise AuditTampered(f"record {number} has seq {record['seq']}, expected {expected_seq}: {what}", line=number)
            if record["prev"] != expected_prev:
                raise AuditTampered(f"record {number} (seq {record['seq']}) does not chain to the record before it", line=number)
            expected_prev, expected_seq, count = record["hash"], expected_seq + 1, count + 1
        if trailing:
            raise AuditTampered(f"record {count + 1} is incomplete: the file was truncated mid-record", line=count + 1)
        head = self._read_head()
        if head is not None and head != (count, expected_prev):
            raise AuditTampered(
                f"the log ends at record {count} but its head file records {head[0]}: records were removed from the end",
                line=count + 1,
            )
        digest.update(view[start:])
        return Verified(records=count, head=expected_prev, size=len(data), digest=digest.hexdigest())

    def _parse(self, raw: bytes, number: int) -> dict[str, Any]:
        try:
            record = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise AuditTampered(f"record {number} is not valid JSON", line=number) from None
        if not isinstance(record, dict) or set(record) != set(_FIELDS):
            raise AuditTampered(f"record {number} does not have the audit record fields", line=number)
        return record


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One record to append, as :meth:`AuditLog.extend` takes it: actor, action, subject and maybe a payload."""
    unknown = set(entry) - {"actor", "action", "subject", "payload"}
    missing = {"actor", "action", "subject"} - set(entry)
    if unknown or missing:
        raise TypeError(f"an audit entry holds actor, action, subject and maybe payload; got {sorted(entry)}")
    return {"payload": None, **entry}


def _completes(written: bytes, *, after: tuple[int, str], ends: tuple[int, str]) -> bool:
    """True when ``written`` is exactly the whole, self-consistent records ``after[0] + 1`` to ``ends[0]``,
    chained to the record ``after`` and ending with the hash an intent named."""
    if not written.endswith(b"\n"):
        return False
    lines = written.split(b"\n")[:-1]
    seq, prev = after
    if len(lines) != ends[0] - seq:
        return False
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return False
        if not (isinstance(record, dict) and set(record) == set(_FIELDS) and record["hash"] == _digest(record)):
            return False
        if record["seq"] != seq + 1 or record["prev"] != prev:
            return False
        seq, prev = record["seq"], record["hash"]
    return (seq, prev) == ends


def is_about(subject: str, agent: str) -> bool:
    """True when ``subject`` is the agent itself or one of its versions or stages."""
    return subject == agent or subject.startswith((f"{agent}/", f"{agent}@"))
