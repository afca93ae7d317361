"""Data contracts: Great Expectations suites, proposed from a reference dataset and checked against datasets.

Suites are Great Expectations' own JSON files (``ExpectationSuite.to_json_dict``)
kept beside the agent. Great Expectations is imported inside the functions and
kept silent: no analytics, no progress bars, no logs, no warnings.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.text import shorten
from agentgov.data.errors import DatasetUnreadable, SuiteInvalid
from agentgov.data.readers import read_dataset

if TYPE_CHECKING:
    import pandas as pd

EXAMPLES = 5
LOW_CARDINALITY = 20
NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64", "Float64"]


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation a dataset did not meet."""

    expectation: str
    column: str | None
    unexpected_share: float | None  # of the non-null values, 0..1; None for table-level expectations
    examples: tuple[str, ...]  # a few unexpected values, or the observed value
    kwargs: dict[str, Any]
    unexpected_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "examples": list(self.examples)}


@dataclass(frozen=True)
class SuiteResult:
    """A dataset checked against its suite. ``error`` is set (and ``passed`` false) when it could not be checked."""

    dataset: str  # the manifest path, or the file as given
    suite: str
    passed: bool
    evaluated: int
    failed: tuple[FailedExpectation, ...]
    rows: int
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": [f.to_dict() for f in self.failed]}


@contextmanager
def quiet_ge() -> Iterator[None]:
    """Great Expectations logs, warns and draws tqdm bars; none of it is for the user."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations  # noqa: F401  (it sets its loggers' levels at import: import first, then override)

        names = ("great_expectations", "posthog", "tzlocal")
        levels = {name: logging.getLogger(name).level for name in names}
        for name in names:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


_CONTEXT: list[Any] = []
_LOCK = threading.Lock()  # one shared context; flows may validate from several task threads


def _context() -> Any:
    """One ephemeral context per process: each new one leaves a temporary folder behind for its docs site."""
    if not _CONTEXT:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        _CONTEXT.append(context)
    return _CONTEXT[0]


def load_suite(file: Path) -> Any:
    """The ``ExpectationSuite`` in ``file``; raises :class:`SuiteInvalid` naming the file."""
    file = Path(file)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteInvalid(f"{file}: no such suite file", hint="propose one with `agentgov data profile PATH --suite NAME`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteInvalid(f"{file}: cannot read the suite: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SuiteInvalid(f"{file}, line {exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list) or "name" not in data:
        raise SuiteInvalid(f"{file}: not a Great Expectations suite (expected an object with 'name' and 'expectations')")
    with quiet_ge():
        import great_expectations as gx
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        # ExpectationSuite() logs and drops an expectation it cannot build: a typo would pass silently. Check each.
        for number, expectation in enumerate(data["expectations"], start=1):
            try:
                ExpectationConfiguration(**expectation).to_domain_obj()
            except Exception as exc:
                kind = expectation.get("type") if isinstance(expectation, dict) else None
                raise SuiteInvalid(f"{file}: expectation {number} ({kind}) is not valid: {_first_line(exc)}") from None
        try:
            return gx.ExpectationSuite(**data)
        except Exception as exc:
            raise SuiteInvalid(f"{file}: not a valid Great Expectations suite: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def suite_columns(suite: Any) -> set[str]:
    columns: set[str] = set()
    for expectation in suite.expectations:
        config = expectation.configuration.kwargs
        for key in ("column", "column_A", "column_B"):
            if isinstance(config.get(key), str):
                columns.add(config[key])
        if isinstance(config.get("column_list"), list):
            columns.update(config["column_list"])
    return columns


def validate_frame(frame: pd.DataFrame, suite: Any, *, source: str = "dataset") -> tuple[int, tuple[FailedExpectation, ...]]:
    """(expectations evaluated, those that failed) for ``frame`` against ``suite``.

    Raises :class:`DatasetUnreadable` when the frame lacks a column the suite
    names, or an expectation cannot run on a column (a wrong type).
    """
    missing = sorted(suite_columns(suite) - {str(c) for c in frame.columns})
    if missing:
        raise DatasetUnreadable(f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} that the suite '{suite.name}' expects")
    with _LOCK, quiet_ge():
        context = _context()
        source_name = f"agentgov-{uuid.uuid4().hex[:8]}"
        asset = context.data_sources.add_pandas(source_name).add_dataframe_asset("dataset")
        try:
            batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES})
        finally:
            context.data_sources.delete(source_name)
    failed = []
    for item in result.results:
        config = item.expectation_config
        column = config.kwargs.get("column")
        error = _exception_message(item.exception_info)
        if error:
            where = f"column '{column}'" if column else "the table"
            raise DatasetUnreadable(f"{source}: {config.type} cannot check {where} (wrong type?): {error}")
        if item.success:
            continue
        failed.append(_failure(config.type, column, dict(config.kwargs), item.result or {}))
    return len(result.results), tuple(failed)


def _exception_message(info: Any) -> str | None:
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            message = str(entry.get("exception_message") or "unknown error").strip()
            return message.splitlines()[0] if message else "unknown error"
    return None


def _failure(kind: str, column: str | None, kwargs: dict[str, Any], result: dict[str, Any]) -> FailedExpectation:
    share = result.get("unexpected_percent")
    examples: list[str]
    if "partial_unexpected_list" in result:
        examples = [_show(v) for v in result["partial_unexpected_list"][:EXAMPLES]]
    elif "observed_value" in result:
        observed = result["observed_value"]
        mismatched = (result.get("details") or {}).get("mismatched")
        examples = [f"observed {_show(observed)}"] + ([f"mismatched {_show(mismatched)}"] if mismatched else [])
    else:
        examples = []
    kwargs.pop("batch_id", None)
    count = result.get("unexpected_count")
    return FailedExpectation(
        kind, column, None if share is None else round(float(share) / 100, 6), tuple(examples), kwargs, None if count is None else int(count)
    )


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return shorten(text)


def validate_file(file: Path, suite_file: Path, *, dataset: str | None = None, suite: str | None = None) -> SuiteResult:
    """Check the dataset ``file`` against the suite in ``suite_file``; raises for unreadable input."""
    started = time.perf_counter()
    loaded = load_suite(suite_file)
    frame = read_dataset(file)
    evaluated, failed = validate_frame(frame, loaded, source=str(file))
    return SuiteResult(
        dataset=dataset or str(file),
        suite=suite or str(suite_file),
        passed=not failed,
        evaluated=evaluated,
        failed=failed,
        rows=len(frame),
        seconds=round(time.perf_counter() - started, 3),
    )


def profile(file: Path, name: str) -> dict[str, Any]:
    """Propose a suite named ``name`` from the reference dataset ``file``, as Great Expectations suite JSON.

    Per column: its type, how often it may be null (``mostly``), the numeric
    range, the allowed values of a low-cardinality column and the length of
    text. A proposal for a person to review, not a contract to trust blindly.
    """
    import pandas as pd

    frame = read_dataset(file)
    rows = len(frame)
    expectations: list[dict[str, Any]] = [
        _expect("expect_table_columns_to_match_set", column_set=[str(c) for c in frame.columns], exact_match=True),
        _expect("expect_table_row_count_to_be_between", min_value=1),
    ]
    for column in frame.columns:
        values = frame[column]
        present = values.dropna()
        name_ = str(column)
        non_null = len(present) / rows
        if non_null < 1:
            mostly = math.floor(non_null * 100) / 100
            if mostly > 0:
                expectations.append(_expect("expect_column_values_to_not_be_null", column=name_, mostly=mostly))
        else:
            expectations.append(_expect("expect_column_values_to_not_be_null", column=name_))
        if present.empty:
            continue
        if pd.api.types.is_bool_dtype(values):
            expectations.append(_expect("expect_column_values_to_be_in_type_list", column=name_, type_list=["bool", "boolean"]))
        elif pd.api.types.is_numeric_dtype(values):
            expectations.append(_expect("expect_column_values_to_be_in_type_list", column=name_, type_list=NUMERIC_TYPES))
            low, high = present.min(), present.max()
            integral = pd.api.types.is_integer_dtype(values) or bool((present == present.round()).all())
            if integral and present.nunique() <= 10 and present.nunique() < len(present):
                allowed = sorted(int(v) for v in present.unique())
                expectations.append(_expect("expect_column_values_to_be_in_set", column=name_, value_set=allowed))
            else:
                expectations.append(_expect("expect_column_values_to_be_between", column=name_, min_value=_number(low), max_value=_number(high)))
        elif pd.api.types.is_datetime64_any_dtype(values):
            expectations.append(_expect("expect_column_values_to_be_in_type_list", column=name_, type_list=[str(values.dtype)]))
        else:
            texts = present.astype(str)
            # GE's type check never matches a pandas categorical (Parquet); its allowed values say enough.
            if not isinstance(values.dtype, pd.CategoricalDtype):
                expectations.append(_expect("expect_column_values_to_be_in_type_list", column=name_, type_list=["str"]))
            distinct = texts.nunique()
            if distinct <= LOW_CARDINALITY and distinct < len(texts):
                expectations.append(_expect("expect_column_values_to_be_in_set", column=name_, value_set=sorted(texts.unique())))
            else:
                lengths = texts.str.len()
                expectations.append(
                    _expect("expect_column_value_lengths_to_be_between", column=name_, min_value=int(lengths.min()), max_value=int(lengths.max()))
                )
    # The layout of ExpectationSuite.to_json_dict(), written without importing Great Expectations (seconds).
    return {
        "name": name,
        "id": None,
        "expectations": expectations,
        "meta": {
            "great_expectations_version": version("great-expectations"),
            "agentgov": {"profiled_from": Path(file).name, "rows": rows, "note": "proposed by `agentgov data profile`: review before use"},
        },
        "notes": None,
    }


def _expect(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {}, "severity": "critical"}


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def write_suite(suite: dict[str, Any], out: Path, *, force: bool = False) -> Path:
    out = Path(out)
    if out.exists() and not force:
        raise SuiteInvalid(f"{out} exists; choose another --out or pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    return out
