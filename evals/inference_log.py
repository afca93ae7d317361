"""The inference log: what an agent saw and did, one row per call.

Stored as Parquet in the home, partitioned by agent and day::

    <home>/inference/agent=<name>/date=<YYYY-MM-DD>/<uuid>.parquet

Every append writes new files (one per agent and day in the batch) under a
fresh name and renames them into place, so several processes append at once
without locks and a reader never sees half a file. Request fields are
flattened into ``request.<field>`` columns and the response into
``response.action``, ``response.label``, ``response.confidence`` and
``response.text``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import InvalidValue
from agentgov.core.types import is_slug

if TYPE_CHECKING:
    import pandas as pd

STAGES = ("production", "shadow", "canary")
RESPONSE_FIELDS = ("action", "label", "confidence", "text")
REQUEST_PREFIX = "request."
RESPONSE_PREFIX = "response."
META_COLUMNS = (
    "time", "agent", "version", "stage", "request_id", "pairing_id", "latency_ms", "cost", "tokens", "error",
    "trace_id", "rollout_id", "trace",
)
REQUIRED_COLUMNS = ("time", "request_id")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class InferenceRecord:
    """One call of an agent version: the request it got, what it answered, and what it cost."""

    time: datetime
    agent: str
    version: int | None
    stage: str
    request_id: str
    request: Mapping[str, Any] = field(default_factory=dict)
    response: Mapping[str, Any] = field(default_factory=dict)
    pairing_id: str | None = None
    latency_ms: float | None = None
    cost: float | None = None  # as the agent reported it (:mod:`agentgov.evals.usage`); None when it did not
    tokens: float | None = None
    error: str | None = None
    trace_id: str | None = None
    rollout_id: str | None = None  # the rollout whose routing sent the call here (gateway), None outside one
    trace: str | None = None  # the runtime's trace as JSON text (what tools it called, with which arguments)

    def __post_init__(self) -> None:
        if not is_slug(self.agent):
            raise InvalidValue(f"agent name {self.agent!r} must be lowercase letters, digits and '-'")
        if self.stage not in STAGES:
            raise InvalidValue(f"unknown stage {self.stage!r}: expected one of {', '.join(STAGES)}")
        if self.time.tzinfo is None:
            raise InvalidValue("an inference record's time needs a time zone")
        unknown = set(self.response) - set(RESPONSE_FIELDS)
        if unknown:
            raise InvalidValue(f"unknown response field {sorted(unknown)[0]!r}: expected {', '.join(RESPONSE_FIELDS)}")

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "time": self.time.astimezone(UTC),
            "agent": self.agent,
            "version": self.version,
            "stage": self.stage,
            "request_id": self.request_id,
            "pairing_id": self.pairing_id,
            "latency_ms": self.latency_ms,
            "cost": self.cost,
            "tokens": self.tokens,
            "error": self.error,
            "trace_id": self.trace_id,
            "rollout_id": self.rollout_id,
            "trace": self.trace,
        }
        row.update({f"{REQUEST_PREFIX}{k}": v for k, v in self.request.items()})
        row.update({f"{RESPONSE_PREFIX}{k}": self.response.get(k) for k in RESPONSE_FIELDS})
        return row


def log_root(home: Path) -> Path:
    return Path(home) / "inference"


def append(home: Path, records: Iterable[InferenceRecord]) -> list[Path]:
    """Append ``records`` to the log; the files written (one per agent and day)."""
    import pandas as pd

    rows = [r.to_row() for r in records]
    if not rows:
        return []
    return append_frame(home, pd.DataFrame(rows))


def append_frame(home: Path, frame: pd.DataFrame) -> list[Path]:
    """Append a frame already in the log's shape (see :func:`normalise`)."""
    _one_type_per_field(frame)
    frame = _typed(frame)
    written = []
    days = frame["time"].dt.strftime("%Y-%m-%d")
    for (agent, day), part in frame.groupby([frame["agent"], days], sort=True):
        folder = log_root(home) / f"agent={agent}" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        temporary = folder / f".{name}.parquet.tmp"
        part.reset_index(drop=True).to_parquet(temporary, index=False)
        target = folder / f"{name}.parquet"
        os.replace(temporary, target)  # atomic: readers see the whole file or none of it
        written.append(target)
    return written


def read(
    home: Path,
    agent: str,
    *,
    version: int | None = None,
    stage: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """The agent's calls, oldest first; ``since`` is inclusive, ``until`` exclusive."""
    import pandas as pd

    folder = log_root(home) / f"agent={agent}"
    files = []
    for day_folder in sorted(folder.glob("date=*")):
        day = date.fromisoformat(day_folder.name.removeprefix("date="))
        if since is not None and day < since.astimezone(UTC).date():
            continue
        if until is not None and day > until.astimezone(UTC).date():
            continue
        files += sorted(day_folder.glob("*.parquet"))
    frames = [pd.read_parquet(path) for path in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _typed(pd.DataFrame({column: [] for column in (*META_COLUMNS, *_response_columns())}))
    frame = pd.concat(frames, ignore_index=True)
    for column in META_COLUMNS:  # files written before a column existed read back with it empty
        if column not in frame.columns:
            frame[column] = None
    keep = pd.Series(True, index=frame.index)
    if version is not None:
        keep &= frame["version"] == int(version)
    if stage is not None:
        keep &= frame["stage"] == stage
    if since is not None:
        keep &= frame["time"] >= pd.Timestamp(since).tz_convert("UTC")
    if until is not None:
        keep &= frame["time"] < pd.Timestamp(until).tz_convert("UTC")
    return frame[keep].sort_values("time", kind="stable").reset_index(drop=True)


def load_file(path: Path) -> pd.DataFrame:
    """A CSV, JSON Lines or Parquet file as a frame, nested ``request``/``response`` objects flattened."""
    import pandas as pd

    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidValue(f"{path}: unknown file type {path.suffix or '(none)'!r}: use .csv, .jsonl or .parquet")
    if not path.is_file():
        raise InvalidValue(f"{path}: no such file")
    try:
        if kind == "csv":
            frame = pd.read_csv(path)
        elif kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = _read_json_lines(path)
    except InvalidValue:
        raise
    except Exception as exc:
        raise InvalidValue(f"{path}: cannot read it as {kind}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from None
    return _flatten(frame)


def _read_json_lines(path: Path) -> pd.DataFrame:
    import pandas as pd

    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidValue(f"{path}: line {number} is not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InvalidValue(f"{path}: line {number} is not a JSON object")
            rows.append(row)
    return pd.DataFrame(rows)


def _flatten(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    for nested, prefix in (("request", REQUEST_PREFIX), ("response", RESPONSE_PREFIX)):
        if nested not in frame.columns:
            continue
        values = frame[nested].map(lambda v: json.loads(v) if isinstance(v, str) and v.strip().startswith("{") else v)
        bad = [i for i, v in values.items() if not (isinstance(v, Mapping) or v is None or _missing(v))]
        if bad:
            raise InvalidValue(f"row {bad[0] + 1}, column {nested!r}: expected an object of fields, got {frame[nested][bad[0]]!r}")
        expanded = pd.DataFrame([dict(v) if isinstance(v, Mapping) else {} for v in values], index=frame.index)
        expanded.columns = [f"{prefix}{c}" for c in expanded.columns]
        frame = pd.concat([frame.drop(columns=[nested]), expanded], axis=1)
    return frame


def normalise(frame: pd.DataFrame, *, agent: str, version: int | None = None, stage: str | None = None) -> pd.DataFrame:
    """Check an imported frame row by row and put it in the log's shape; the first problem names its row and column.

    ``version`` and ``stage`` fill in (or must agree with) the file's own columns; the stage defaults to production.
    """
    import pandas as pd

    if not is_slug(agent):
        raise InvalidValue(f"agent name {agent!r} must be lowercase letters, digits and '-'")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidValue(f"missing column {missing[0]!r} (required: {', '.join(REQUIRED_COLUMNS)})")
    unknown = [c for c in frame.columns if c not in META_COLUMNS and not str(c).startswith((REQUEST_PREFIX, RESPONSE_PREFIX))]
    if unknown:
        raise InvalidValue(
            f"unknown column {unknown[0]!r}",
            hint=f"request fields go in 'request.<field>' columns (or a 'request' object), the response in {', '.join(_response_columns())}",
        )
    if not any(str(c).startswith(REQUEST_PREFIX) for c in frame.columns):
        raise InvalidValue("no request fields: add 'request.<field>' columns or a 'request' object per row")
    bad_response = [c for c in frame.columns if str(c).startswith(RESPONSE_PREFIX) and c not in _response_columns()]
    if bad_response:
        raise InvalidValue(f"unknown column {bad_response[0]!r}: the response columns are {', '.join(_response_columns())}")
    if len(frame) == 0:
        raise InvalidValue("the file has no rows")
    frame = frame.reset_index(drop=True).copy()

    for column, value in (("agent", agent), ("version", version), ("stage", stage)):
        if value is None:
            continue
        if column in frame.columns:
            given = frame[column].map(_text)
            differs = given.notna() & (given != str(value))
            if differs.any():
                row = int(differs.idxmax())
                raise InvalidValue(f"row {row + 1}, column {column!r}: {_shown(frame[column][row])} differs from the {column} given ({value})")
        frame[column] = value
    frame["stage"] = frame["stage"] if "stage" in frame.columns else "production"

    times = pd.to_datetime(frame["time"], errors="coerce", utc=True, format="mixed")
    _first_bad(frame, "time", times.isna(), "a date and time (ISO 8601)")
    frame["time"] = times
    _first_bad(frame, "request_id", frame["request_id"].map(_missing), "a request id")
    frame["request_id"] = frame["request_id"].map(_text)
    frame["stage"] = frame["stage"].map(lambda v: "production" if _missing(v) else str(v))
    _first_bad(frame, "stage", ~frame["stage"].isin(STAGES), f"one of {', '.join(STAGES)}")
    if "version" in frame.columns:
        versions = pd.to_numeric(frame["version"], errors="coerce")
        bad = frame["version"].map(lambda v: not _missing(v)) & (versions.isna() | (versions % 1 != 0) | (versions < 1))
        _first_bad(frame, "version", bad, "a version number (1, 2...)")
        frame["version"] = versions.astype("Int64")
    for column in ("latency_ms", "cost", "tokens", f"{RESPONSE_PREFIX}confidence"):
        if column in frame.columns:
            numbers = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column].map(lambda v: not _missing(v)) & numbers.isna()
            _first_bad(frame, column, bad, "a number")
            frame[column] = numbers.astype("float64")
    confidence = f"{RESPONSE_PREFIX}confidence"
    if confidence in frame.columns:
        _first_bad(frame, confidence, (frame[confidence] < 0) | (frame[confidence] > 1), "a confidence between 0 and 1")
    return frame


def _one_type_per_field(frame: pd.DataFrame) -> None:
    """A request field holds text or numbers, not both: Parquet stores one type per column (first mix named)."""
    for column in frame.columns:
        if not str(column).startswith(REQUEST_PREFIX) or frame[column].dtype != object:
            continue
        present = frame[column][frame[column].map(lambda v: not _missing(v))]
        is_text = present.map(lambda v: isinstance(v, str))
        if is_text.any() and not is_text.all():
            first = present.index[0]
            other = int((is_text != is_text.iloc[0]).to_numpy().nonzero()[0][0])
            row = present.index[other]
            kind = "text" if is_text.iloc[0] else "a number or other non-text value"
            raise InvalidValue(
                f"row {int(row) + 1}, column {column!r}: expected {kind} like row {int(first) + 1} ({_shown(present[first])}), "
                f"got {_shown(present[row])}",
                hint="a request field holds one type in every call: quote the numbers, or use another field",
            )


def _first_bad(frame: pd.DataFrame, column: str, bad: pd.Series, expected: str) -> None:
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InvalidValue(f"row {row + 1}, column {column!r}: expected {expected}, got {_shown(frame[column].iloc[row])}")


def _missing(value: Any) -> bool:
    import pandas as pd

    if isinstance(value, (Mapping, list, tuple)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _shown(value: Any) -> str:
    return repr(value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value)


def _text(value: Any) -> str | None:
    if _missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _response_columns() -> tuple[str, ...]:
    return tuple(f"{RESPONSE_PREFIX}{f}" for f in RESPONSE_FIELDS)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Fixed types for the log's own columns, so files written by different batches read back alike."""
    import pandas as pd

    frame = frame.copy()
    for column in (*META_COLUMNS, *_response_columns()):
        if column not in frame.columns:
            frame[column] = None
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["version"] = pd.to_numeric(frame["version"]).astype("Int64")
    for column in ("latency_ms", "cost", "tokens", f"{RESPONSE_PREFIX}confidence"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    for column in ("agent", "stage", "request_id", "pairing_id", "error", "trace_id", "rollout_id", "trace",
                   f"{RESPONSE_PREFIX}action", f"{RESPONSE_PREFIX}label", f"{RESPONSE_PREFIX}text"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    ordered = [*META_COLUMNS, *sorted(c for c in frame.columns if str(c).startswith(REQUEST_PREFIX)), *_response_columns()]
    return frame[ordered]


def parse_window(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d`` or ``2w`` as a duration."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip().lower()
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise InvalidValue(f"window {text!r}: expected a number and a unit, such as 30m, 24h, 7d or 2w")
    return timedelta(**{units[unit]: int(number)})
