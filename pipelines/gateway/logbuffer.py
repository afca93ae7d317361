"""Inference-log rows held in memory and written in batches: one Parquet file per batch, not per request.

:meth:`LogBuffer.add` never blocks on disk: it appends to a list under a lock.
A writer thread flushes when ``batch_rows`` rows are waiting or the oldest has
waited ``max_wait_s``; :meth:`LogBuffer.close` flushes what is left (the
gateway calls it on shutdown, which uvicorn runs on SIGTERM). Memory is
bounded: beyond ``max_rows`` waiting rows a new row is dropped and counted.
A batch the log refuses (a request field that is text in one row and a number
in another) is written row by row, so one odd request costs only its own row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agentgov.evals.inference_log import InferenceRecord, append

log = logging.getLogger("agentgov.gateway")


class LogBuffer:
    def __init__(
        self,
        home: Path,
        *,
        batch_rows: int = 500,
        max_wait_s: float = 2.0,
        max_rows: int = 50_000,
        on_drop: Callable[[str, int], None] | None = None,
    ) -> None:
        self.home = Path(home)
        self.batch_rows = batch_rows
        self.max_wait_s = max_wait_s
        self.max_rows = max_rows
        self.dropped = 0  # rows refused because the buffer was full, or that the log could not take
        self.written = 0
        self.files = 0
        self._on_drop = on_drop or (lambda reason, n: None)
        self._rows: list[InferenceRecord] = []
        self._oldest: float | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._flushing = threading.Lock()  # one write at a time, whoever calls it
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="agentgov-inference-log", daemon=True)
        self._thread.start()

    def add(self, record: InferenceRecord) -> bool:
        """Queue a row; False (and counted) when the buffer is full or closed."""
        with self._lock:
            if self._closed or len(self._rows) >= self.max_rows:
                self.dropped += 1
                reason = "closed" if self._closed else "full"
            else:
                self._rows.append(record)
                if self._oldest is None:
                    self._oldest = time.monotonic()
                if len(self._rows) >= self.batch_rows:
                    self._wake.notify()
                return True
        self._on_drop(reason, 1)
        return False

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Write every waiting row now; the number written."""
        with self._flushing:
            with self._lock:
                rows, self._rows, self._oldest = self._rows, [], None
            if not rows:
                return 0
            return self._write(rows)

    def _write(self, rows: list[InferenceRecord]) -> int:
        try:
            files = append(self.home, rows)
        except Exception:
            log.warning("a batch of %d inference rows was refused; writing them one by one", len(rows), exc_info=True)
            return self._write_each(rows)
        self.written += len(rows)
        self.files += len(files)
        return len(rows)

    def _write_each(self, rows: list[InferenceRecord]) -> int:
        done = 0
        for row in rows:
            try:
                self.files += len(append(self.home, [row]))
                done += 1
            except Exception as exc:
                self.dropped += 1
                self._on_drop("refused", 1)
                log.warning("inference row %s dropped: %s", row.request_id, exc)
        self.written += done
        return done

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._due():
                    wait = (
                        self.max_wait_s
                        if self._oldest is None
                        else max(0.0, self._oldest + self.max_wait_s - time.monotonic())
                    )
                    self._wake.wait(timeout=max(wait, 0.01))
                if self._closed:
                    return
            self.flush()

    def _due(self) -> bool:
        if not self._rows:
            return False
        return len(self._rows) >= self.batch_rows or time.monotonic() - (self._oldest or 0) >= self.max_wait_s

    def close(self) -> int:
        """Stop the writer and flush what is left; rows added later are dropped and counted."""
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=30)
        return self.flush()
