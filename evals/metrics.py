"""The statistics of an offline eval, from the outcome of each task: pure functions, no I/O."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from agentgov.core.stats import wilson_interval


@dataclass(frozen=True)
class Outcome:
    """One eval row run through the agent."""

    expected: str
    predicted: str | None  # None when the call raised or the response had no answer
    latency_ms: float
    cost: float | None = None  # as the agent reported it; None when it did not
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.error is None and self.predicted == self.expected


@dataclass(frozen=True)
class ClassStats:
    """Precision and recall of one label, with the counts behind them."""

    tp: int
    fp: int  # predicted this label, expected another
    fn: int  # expected this label, predicted another (or nothing)
    support: int  # rows expecting this label

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.support if self.support else None

    def to_dict(self) -> dict[str, float | int | None]:
        return {"precision": _round(self.precision), "recall": _round(self.recall), "tp": self.tp, "fp": self.fp, "fn": self.fn, "support": self.support}


def per_class(outcomes: Sequence[Outcome]) -> dict[str, ClassStats]:
    """Per label (expected or predicted), sorted by name: a failed call is a false negative of its expected label."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    support: Counter[str] = Counter()
    for o in outcomes:
        support[o.expected] += 1
        if o.success:
            tp[o.expected] += 1
            continue
        fn[o.expected] += 1
        if o.error is None and o.predicted is not None:
            fp[o.predicted] += 1
    labels = sorted(set(support) | set(fp))
    return {label: ClassStats(tp[label], fp[label], fn[label], support[label]) for label in labels}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    samples: int
    successes: int
    errors: int
    success_ci: tuple[float, float]
    latency_ms: dict[str, float | None]
    cost_per_task: float
    cost_reported: int  # rows whose response carried a cost
    classes: dict[str, ClassStats]

    @property
    def success_rate(self) -> float:
        return self.successes / self.samples if self.samples else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.samples if self.samples else 0.0


def summarize(outcomes: Sequence[Outcome]) -> Summary:
    """Task success with its 95% Wilson interval, error rate, latency percentiles, cost per task, per-class counts.

    Latency covers every call, failed ones included (a timeout is slow too); cost
    per task averages over all rows, counting 0 for a row that reported none.
    """
    samples = len(outcomes)
    successes = sum(o.success for o in outcomes)
    latencies = [o.latency_ms for o in outcomes]
    costs = [o.cost for o in outcomes if o.cost is not None]
    return Summary(
        samples=samples,
        successes=successes,
        errors=sum(o.error is not None for o in outcomes),
        success_ci=wilson_interval(successes, samples),
        latency_ms={f"p{q}": _round(percentile(latencies, q), 3) for q in (50, 95, 99)},
        cost_per_task=sum(costs) / samples if samples else 0.0,
        cost_reported=len(costs),
        classes=per_class(outcomes),
    )


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
