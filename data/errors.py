"""Errors about datasets and their contracts, each naming the file and the fix."""

from __future__ import annotations

from agentgov.core.errors import AgentgovError


class DataError(AgentgovError):
    """A dataset or a suite cannot be used as asked."""


class DatasetUnreadable(DataError):
    """A dataset file is missing, empty, not CSV/Parquet, badly encoded or has the wrong columns."""


class SuiteInvalid(DataError):
    """An expectation suite file is missing or is not a Great Expectations suite."""


class DirtyDatasets(DataError):
    """Registration met datasets that differ from what DVC tracks."""


class VersioningError(DataError):
    """DVC could not track or restore a dataset."""
