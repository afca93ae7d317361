"""How tool calls are answered: ``live``, ``shadow`` or ``replay``.

``live``
    Every tool executes through its connector.
``shadow``
    A tool with side effects never executes. It is recorded with its
    arguments and answered from the paired production trace (the recorded
    result of the same tool with the same arguments), else from the stub the
    tool declares, else it fails with :class:`NoRecordedAnswer`. A read-only
    tool executes (``read_only="execute"``, the default) or is answered from
    the paired trace like the others (``read_only="replay"``).
``replay``
    Every tool is answered from a recorded trace; a call the trace does not
    hold fails with :class:`NoRecordedAnswer`, recorded as such. Nothing
    executes: this is how a new version is evaluated on yesterday's traffic.

A recorded answer is what the trace holds, masked as it was recorded: where
production saw ``jane.doe@example.com`` a shadow or replayed agent sees
``j***@example.com``.
"""

from __future__ import annotations

from enum import StrEnum

from agentgov.core.errors import InvalidValue


class Mode(StrEnum):
    LIVE = "live"
    SHADOW = "shadow"
    REPLAY = "replay"

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        try:
            return cls(value)
        except ValueError:
            raise InvalidValue(f"mode {value!r}: expected one of {', '.join(m.value for m in cls)}") from None


READ_ONLY_CHOICES = ("execute", "replay")


def check_read_only(value: str) -> str:
    if value not in READ_ONLY_CHOICES:
        raise InvalidValue(f"read_only {value!r}: expected one of {', '.join(READ_ONLY_CHOICES)}")
    return value
