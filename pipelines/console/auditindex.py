"""The audit log as the console reads it: parsed once per console process, then only what was appended.

A page asks the log several questions (the last decision of each agent, an agent's stage changes, the newest
records of one action); reading and parsing 100,000 JSON lines for each would take seconds. An
:class:`IndexedAuditLog` keeps the parsed records in memory, indexed by agent and action, and before every
answer looks at the file: unchanged (same inode, size, modification and change times), the index answers as it
is; grown, with the last record it read still where it was, only the new lines are parsed; anything else
(replaced, shrunk below what was read, changed without growing) and the index is rebuilt from the file. So a
record appended by another process shows on the next page, and a page never shows records of another file.

The log is append-only: the one other change is tampering, and that is ``verify``'s to catch (the audit page
shows it, naming the record). The index does not re-read what it has read, so a record edited in place *and*
followed by an append keeps showing as first read, beside that verdict. ``verify`` is :meth:`AuditLog.verify`
resumed from the last verification when the bytes it verified are unchanged (their SHA-256), so a grown log
costs only its new records; any change to those bytes and it verifies everything again.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgov.core.audit import AuditLog, AuditRecord, Verified, is_about
from agentgov.core.errors import AuditError, AuditTampered
from agentgov.core.masking import Masker

_SEPARATORS = ("/", "@")  # an agent's subjects: the agent itself, NAME/VERSION, NAME@ALIAS
# A file's times move in clock ticks (milliseconds): a change in the tick of the last look would leave them as
# they were, so a verification of a file changed less than this long ago is not taken as still standing.
_SETTLED_NS = 1_000_000_000
# Parsing this many records at once moves everything read so far out of the cyclic garbage collector's sight
# (``gc.freeze``): the records live as long as the console, and every full collection walking 100,000 of them
# (with their payloads) paused a page for 0.3 to 0.9 s.
_FREEZE_AFTER = 10_000


def agent_of(subject: str) -> str:
    """The agent a subject is about: ``router`` for ``router``, ``router/3`` and ``router@production``."""
    cut = min((i for i in (subject.find(s) for s in _SEPARATORS) if i != -1), default=len(subject))
    return subject[:cut]


def _stat_key(path: Path | int) -> tuple[int, ...] | None:
    """What a change to the file (a path or an open descriptor) changes: its identity, size, modification and
    status-change times; ``None`` when there is no file."""
    try:
        st = os.fstat(path) if isinstance(path, int) else os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _grew(index: _Index, key: tuple[int, ...] | None, f: Any) -> bool:
    """True when the open file ``f`` (stat ``key``) is the file ``index`` read, grown or with a partial line cut:
    the same inode, another size, and the last line read still ending where reading stopped."""
    seen = index.seen
    if seen is None or key is None or key[:2] != seen[:2] or key[2] == seen[2] or key[2] < index.offset:
        return False
    f.seek(index.offset - len(index.last_line))
    return f.read(len(index.last_line)) == index.last_line


def _settled(key: tuple[int, ...] | None) -> bool:
    """True when ``key``'s file was last changed long enough ago for its times to tell a later change."""
    return key is None or time.time_ns() - max(key[3], key[4]) > _SETTLED_NS


@dataclass
class _Index:
    """The records of the file's first ``offset`` bytes (whole lines only), and where each agent and action is."""

    seen: tuple[int, ...] | None = None  # the file's stat (:func:`_stat_key`) when it was last read
    offset: int = 0
    last_line: bytes = b""  # the last line read, which ends at ``offset``
    records: list[AuditRecord] = field(default_factory=list)
    by_agent: dict[str, list[int]] = field(default_factory=dict)
    by_action: dict[str, list[int]] = field(default_factory=dict)
    by_agent_action: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, record: AuditRecord) -> None:
        position = len(self.records)
        self.records.append(record)
        agent = agent_of(record.subject)
        self.by_agent.setdefault(agent, []).append(position)
        self.by_action.setdefault(record.action, []).append(position)
        self.by_agent_action.setdefault((agent, record.action), []).append(position)


class IndexedAuditLog(AuditLog):
    """An :class:`AuditLog` whose reads are answered from memory, always as of the file at the time of the call.

    Safe to share between the threads that serve pages. Writes (``append``, ``extend``) go to the file as
    usual, and the next read picks them up like any other process's.
    """

    def __init__(self, path: Path, masker: Masker | None = None) -> None:
        super().__init__(path, masker)
        self._lock = threading.Lock()
        self._index = _Index()
        self._verify_lock = threading.Lock()
        self._verified: tuple[tuple[Any, ...], Verified | AuditError] | None = None
        self._last_good: Verified | None = None

    # -- reading ------------------------------------------------------------

    def records(self, *, subject_prefix: str | None = None) -> Iterator[AuditRecord]:
        """As :meth:`AuditLog.records`: the records of the agent ``subject_prefix`` (all without it), in order."""
        return iter(self.select(agent=subject_prefix))

    def select(
        self, *, agent: str | None = None, action: str | None = None, newest: int | None = None
    ) -> list[AuditRecord]:
        """The records of ``agent`` (the agent itself, its versions and aliases, as ``records(subject_prefix=)``
        matches them) with ``action``, either or both, oldest first; only the ``newest`` of them when given."""
        with self._lock:
            index = self._refresh()
            if agent is not None and agent_of(agent) != agent:  # not an agent's name: compare every subject
                found = [r for r in index.records if is_about(r.subject, agent) and (action is None or r.action == action)]
                return found[-newest:] if newest else found
            if agent is None and action is None:
                return index.records[-newest:] if newest else list(index.records)
            if agent is None:
                positions = index.by_action.get(str(action), [])
            elif action is None:
                positions = index.by_agent.get(agent, [])
            else:
                positions = index.by_agent_action.get((agent, action), [])
            if newest:
                positions = positions[-newest:]
            return [index.records[i] for i in positions]

    def _refresh(self) -> _Index:
        """Under the lock: bring the index up to the file (see the module docstring)."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            self._index = _Index()
            return self._index
        with f:
            key = _stat_key(f.fileno())
            index = self._index
            if key == index.seen:
                return index
            if not _grew(index, key, f):
                index = _Index()
            f.seek(index.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line still being written is read once it is whole
        lines = data[:end].splitlines(keepends=True)
        for number, line in enumerate(lines, start=len(index.records) + 1):
            try:
                index.add(self._record(line, number))
            except AuditError:
                self._index = _Index()
                raise
        if lines:
            index.offset, index.last_line = index.offset + end, lines[-1]
        index.seen = key
        self._index = index
        if len(lines) >= _FREEZE_AFTER:
            gc.freeze()
        return index

    # -- verifying ----------------------------------------------------------

    def verify(self, *, since: Verified | None = None) -> Verified:
        """As :meth:`AuditLog.verify`; unchanged files are not read again, and a grown one is checked from where
        the last verification ended when the bytes it verified are unchanged (else from the start)."""
        with self._verify_lock:
            key = (_stat_key(self.path), _stat_key(self.head_path))
            if self._verified is not None and self._verified[0] == key:
                result = self._verified[1]
            else:
                try:
                    result = super().verify(since=since or self._last_good)
                    self._last_good = result
                except AuditTampered as exc:
                    result = exc
                # what the file and its head were when verification began; a change during it shows next time
                self._verified = (key, result) if all(_settled(k) for k in key) else None
        if isinstance(result, AuditError):
            raise result
        return result
