"""The result of one drift evaluation: what the drift gate and the reports read.

Plain frozen values with no heavy imports, so a policy can read a stored result
without pulling in pandas or numpy. Every evaluator plugin returns a
:class:`DriftResult`; :meth:`DriftResult.checked` is the engine's fail-closed
rule for any of them: a score that is NaN or infinite makes the result an
``error``, never a "not drifted".
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentgov.core.errors import InvalidValue

COLUMN_TYPES = ("num", "cat", "text")


class DriftStatus(enum.StrEnum):
    OK = "ok"
    DRIFT = "drift"
    INSUFFICIENT_DATA = "insufficient-data"
    ERROR = "error"

    @classmethod
    def parse(cls, value: str | DriftStatus) -> DriftStatus:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise InvalidValue(f"unknown drift status {value!r}: expected one of {choices}") from None


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict.

    ``method`` names the test (``ks``, ``wasserstein``, ``chisquare``...), ``score``
    is its statistic or p-value and ``threshold`` the level it was judged at.
    ``effect`` is how far the distribution moved, on a scale where 0 is no change
    (see :mod:`agentgov.evals.drift_compare`), or None when the test gives none;
    ``note`` says why a column is not judged drifted although its test fired
    (a negligible effect, say).
    """

    column: str
    column_type: str
    method: str
    score: float
    threshold: float
    drifted: bool
    effect: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.column_type not in COLUMN_TYPES:
            raise InvalidValue(f"unknown column type {self.column_type!r}: expected one of {', '.join(COLUMN_TYPES)}")

    @property
    def finite(self) -> bool:
        """Whether the score, the threshold and the effect (when there is one) are real numbers."""
        return _finite(self.score) and _finite(self.threshold) and (self.effect is None or _finite(self.effect))

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "column_type": self.column_type,
            "method": self.method,
            "score": float(self.score),
            "threshold": float(self.threshold),
            "drifted": bool(self.drifted),
            "effect": None if self.effect is None else float(self.effect),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnDrift:
        return cls(
            column=str(data["column"]),
            column_type=str(data["column_type"]),
            method=str(data["method"]),
            score=float(data["score"]),
            threshold=float(data["threshold"]),
            drifted=bool(data["drifted"]),
            effect=None if data.get("effect") is None else float(data["effect"]),
            note=str(data.get("note") or ""),
        )


@dataclass(frozen=True)
class DriftResult:
    """Drift of a current window against a reference, per column and for the whole data set.

    ``dataset_drifted`` is ``share_drifted >= drift_share_threshold``, as in Evidently.
    """

    columns: tuple[ColumnDrift, ...]
    share_drifted: float
    dataset_drifted: bool
    drift_share_threshold: float
    reference_rows: int
    current_rows: int
    status: DriftStatus
    message: str = ""
    engine: str = "exact"

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "status", DriftStatus.parse(self.status))

    @classmethod
    def failed(cls, message: str, *, reference_rows: int = 0, current_rows: int = 0, drift_share_threshold: float = 0.5) -> DriftResult:
        """A result with status ``error``: the evaluation could not give a verdict (the gate blocks on it)."""
        first = message.strip().splitlines()[0] if message.strip() else "no message"
        return cls((), 0.0, False, drift_share_threshold, reference_rows, current_rows, DriftStatus.ERROR, message=first)

    @classmethod
    def insufficient(cls, reference_rows: int, current_rows: int, min_rows: int, *, drift_share_threshold: float = 0.5) -> DriftResult:
        """A result with status ``insufficient-data``: too few rows on a side for any verdict."""
        message = (
            f"too few rows to judge drift: {reference_rows} in the reference and {current_rows} in the current data, "
            f"at least {min_rows} needed on each side"
        )
        return cls((), 0.0, False, drift_share_threshold, reference_rows, current_rows, DriftStatus.INSUFFICIENT_DATA, message)

    def checked(self) -> DriftResult:
        """This result, or an ``error`` result when a score, an effect or the share is NaN or infinite (fail closed)."""
        if self.status not in (DriftStatus.OK, DriftStatus.DRIFT):
            return self
        broken = [column for column in self.columns if not column.finite]
        if broken:
            column = broken[0]
            broken_parts = [f"the {column.method} score is {column.score!r}"] if not _finite(column.score) else []
            broken_parts += [f"the threshold is {column.threshold!r}"] if not _finite(column.threshold) else []
            broken_parts += [f"the effect is {column.effect!r}"] if column.effect is not None and not _finite(column.effect) else []
            return DriftResult.failed(
                f"column {column.column!r}: {' and '.join(broken_parts)}, not a number a verdict can rest on",
                reference_rows=self.reference_rows, current_rows=self.current_rows, drift_share_threshold=self.drift_share_threshold,
            )
        if not _finite(self.share_drifted):
            return DriftResult.failed(f"the share of drifted columns is {self.share_drifted!r}", reference_rows=self.reference_rows,
                                      current_rows=self.current_rows, drift_share_threshold=self.drift_share_threshold)
        return self

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(column.column for column in self.columns if column.drifted)

    def column(self, name: str) -> ColumnDrift:
        for column in self.columns:
            if column.column == name:
                return column
        raise InvalidValue(f"no drift result for column {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [column.to_dict() for column in self.columns],
            "share_drifted": float(self.share_drifted),
            "dataset_drifted": bool(self.dataset_drifted),
            "drift_share_threshold": float(self.drift_share_threshold),
            "reference_rows": int(self.reference_rows),
            "current_rows": int(self.current_rows),
            "status": self.status.value,
            "message": self.message,
            "engine": self.engine,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftResult:
        return cls(
            columns=tuple(ColumnDrift.from_dict(column) for column in data.get("columns", ())),
            share_drifted=float(data["share_drifted"]),
            dataset_drifted=bool(data["dataset_drifted"]),
            drift_share_threshold=float(data["drift_share_threshold"]),
            reference_rows=int(data["reference_rows"]),
            current_rows=int(data["current_rows"]),
            status=DriftStatus.parse(data["status"]),
            message=str(data.get("message", "")),
            engine=str(data.get("engine", "exact")),
        )


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
