"""The result of one drift evaluation: what the drift gate and the reports read.

Plain frozen values with no heavy imports, so a policy can read a stored result
without pulling in pandas or Evidently.
"""

from __future__ import annotations

import enum
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
    """One column's verdict. ``method`` is Evidently's stattest name (``wasserstein``, ``ks``...)."""

    column: str
    column_type: str
    method: str
    score: float
    threshold: float
    drifted: bool

    def __post_init__(self) -> None:
        if self.column_type not in COLUMN_TYPES:
            raise InvalidValue(f"unknown column type {self.column_type!r}: expected one of {', '.join(COLUMN_TYPES)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "column_type": self.column_type,
            "method": self.method,
            "score": float(self.score),
            "threshold": float(self.threshold),
            "drifted": bool(self.drifted),
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
