"""Rollout plans: the steps a new version goes through, and what each step must show, in TOML.

::

    [[steps]]
    kind = "shadow"            # mirrored traffic, no side effects, nobody answered by it
    mirror = 1.0               # share of requests copied to the shadow
    min_requests = 1000        # the step lasts at least this many requests...
    min_minutes = 10           # ...and at least this long
    max_minutes = 1440         # no verdict by then: pause for a person

    [steps.analysis]
    alpha = 0.05               # false-fail rate of each metric, however often it is looked at
    power = 0.8                # chance of catching a regression of `mde`
    shadow_agreement = 0.95    # lowest agreement with production (lower 95% bound)
    drift = true               # the drift gate must pass too

    [[steps.analysis.metrics]]
    name = "error_rate"
    margin = 0.01              # candidate - production may be up to this much worse
    mde = 0.04                 # an increase this large is caught with `power`

    [[steps]]
    kind = "canary"
    percent = 5                # share of request keys answered by the candidate
    ...

    [[steps]]
    kind = "production"

Steps run in order: shadow steps, then canary steps at rising percentages,
then one production step, last. :func:`load_plan` reports every problem at
once, each as one line with the file, the line and the field::

    plan.toml, line 14: steps[1].percent: expected a percentage above 0 and below 100, got 120

The metric names are those of :mod:`agentgov.evals.analysis` (an engine may
not import another; a test keeps the two lists equal). ``relative`` margins
and effects are fractions of production's value (latency, cost, tokens); the
error rate's are absolute.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from agentgov.core.errors import AgentgovError
from agentgov.core.text import short_repr as _short
from agentgov.core.types import is_slug

METRIC_NAMES = ("error_rate", "latency_p95_ms", "latency_mean_ms", "cost", "tokens")
ABSOLUTE_ONLY = ("error_rate",)
STEP_KINDS = ("shadow", "canary", "production")
MAX_BYTES = 256 << 10
DEFAULT_MAX_MINUTES = 24 * 60

Ratio = Annotated[float, Field(ge=0, le=1)]
Minutes = Annotated[float, Field(ge=0)]
Scalar = str | int | float | bool


class _Model(BaseModel):
    # Strict: TOML already gives typed values, so "5" is not silently a number.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MetricCheck(_Model):
    """One metric compared with production: its verdict comes from ``agentgov.evals.analysis``."""

    name: Literal[METRIC_NAMES]  # type: ignore[valid-type]
    margin: Annotated[float, Field(ge=0)] = Field(description="How much worse than production is still acceptable.")
    mde: Annotated[float, Field(gt=0)] = Field(description="The regression that must be caught with the step's power.")
    relative: bool = Field(default=False, description="margin and mde are fractions of production's value.")

    @model_validator(mode="after")
    def _sizes(self) -> MetricCheck:
        if self.relative and self.name in ABSOLUTE_ONLY:
            raise PydanticCustomError(
                "relative", f"{self.name} takes an absolute margin and mde, not relative ones", {"at": ["relative"]}
            )
        if self.mde <= self.margin:
            raise PydanticCustomError(
                "mde",
                "mde ({mde}) must be larger than margin ({margin}): a smaller regression cannot be caught",
                {"mde": f"{self.mde:g}", "margin": f"{self.margin:g}", "at": ["mde"]},
            )
        if self.name in ABSOLUTE_ONLY and self.mde >= 1:
            raise PydanticCustomError(
                "mde", "a rate's mde must be below 1, got {mde}", {"mde": f"{self.mde:g}", "at": ["mde"]}
            )
        return self


class StepAnalysis(_Model):
    """What a step must show before the rollout moves on."""

    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    power: Annotated[float, Field(gt=0, lt=1)] = 0.8
    metrics: list[MetricCheck] = Field(default_factory=list)
    shadow_agreement: Ratio | None = Field(
        default=None, description="Lowest agreement with production (lower 95% bound)."
    )
    drift: bool = Field(default=False, description="The drift gate must pass on this step's traffic.")
    policies: dict[str, dict[str, Scalar | list[Scalar]]] = Field(
        default_factory=dict, description="Step-specific parameters of the gate's policies, by policy name."
    )

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, metrics: list[MetricCheck]) -> list[MetricCheck]:
        seen: dict[str, int] = {}
        for index, metric in enumerate(metrics):
            if metric.name in seen:
                raise PydanticCustomError(
                    "duplicate",
                    "metric {name} is listed twice (first at index {first})",
                    {"name": metric.name, "first": seen[metric.name], "at": [index, "name"]},
                )
            seen[metric.name] = index
        return metrics

    @field_validator("policies")
    @classmethod
    def _policy_names(cls, policies: dict[str, Any]) -> dict[str, Any]:
        for name in policies:
            if not is_slug(name):
                raise PydanticCustomError(
                    "policy",
                    "expected a policy name like 'shadow-agreement', got {name}",
                    {"name": _short(name), "at": [name]},
                )
        return policies


class _Timed(_Model):
    min_requests: Annotated[int, Field(ge=0)] = 0
    min_minutes: Minutes = 0
    max_minutes: Minutes = DEFAULT_MAX_MINUTES
    analysis: StepAnalysis = Field(default_factory=StepAnalysis)

    @model_validator(mode="after")
    def _durations(self) -> _Timed:
        if self.max_minutes < self.min_minutes:
            raise PydanticCustomError(
                "duration",
                "max_minutes ({most}) is shorter than min_minutes ({least})",
                {"most": f"{self.max_minutes:g}", "least": f"{self.min_minutes:g}", "at": ["max_minutes"]},
            )
        return self


class ShadowStep(_Timed):
    """Production answers; a share of requests is mirrored to the candidate, whose side effects never execute."""

    kind: Literal["shadow"]
    mirror: Annotated[float, Field(gt=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _bounded(self) -> ShadowStep:
        if self.min_requests == 0 and self.min_minutes == 0:
            raise PydanticCustomError(
                "shadow_length", "a shadow step needs min_requests or min_minutes above 0", {"at": ["min_requests"]}
            )
        return self


class CanaryStep(_Timed):
    """The candidate answers ``percent`` of request keys, sticky per key."""

    kind: Literal["canary"]
    percent: float = Field(description="Share of request keys answered by the candidate, above 0 and below 100.")

    @field_validator("percent")
    @classmethod
    def _percent(cls, percent: float) -> float:
        if not 0 < percent < 100:
            raise PydanticCustomError(
                "percent", "expected a percentage above 0 and below 100, got {value}", {"value": f"{percent:g}"}
            )
        return percent

    @model_validator(mode="after")
    def _no_agreement(self) -> CanaryStep:
        if self.analysis.shadow_agreement is not None:
            raise PydanticCustomError(
                "canary_agreement",
                "shadow_agreement applies to shadow steps: canary traffic is not paired with production",
                {"at": ["analysis", "shadow_agreement"]},
            )
        return self

    @property
    def weight(self) -> float:
        """``percent`` as a share from 0 to 1, as :func:`agentgov.deploy.routing.assign` takes it."""
        return self.percent / 100


class ProductionStep(_Model):
    """The candidate becomes production, through the gate."""

    kind: Literal["production"]


Step = Annotated[ShadowStep | CanaryStep | ProductionStep, Field(discriminator="kind")]
STEP_MODELS: dict[str, type[BaseModel]] = {"shadow": ShadowStep, "canary": CanaryStep, "production": ProductionStep}


class RolloutPlan(_Model):
    """A rollout plan: its steps in order, the last one production."""

    name: Annotated[str, Field(min_length=1, max_length=100)] = "custom"
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _order(
        cls, steps: list[ShadowStep | CanaryStep | ProductionStep]
    ) -> list[ShadowStep | CanaryStep | ProductionStep]:
        last_percent, seen_canary = 0.0, False
        for index, step in enumerate(steps):
            if isinstance(step, ProductionStep):
                if index != len(steps) - 1:
                    raise PydanticCustomError(
                        "order", "the production step must be the last step", {"at": [index, "kind"]}
                    )
            elif isinstance(step, CanaryStep):
                if step.percent <= last_percent:
                    raise PydanticCustomError(
                        "order",
                        "canary percentages must rise from step to step: {value} after {before}",
                        {"value": f"{step.percent:g}", "before": f"{last_percent:g}", "at": [index, "percent"]},
                    )
                last_percent, seen_canary = step.percent, True
            elif seen_canary:
                raise PydanticCustomError(
                    "order", "a shadow step must come before the canary steps", {"at": [index, "kind"]}
                )
        if not isinstance(steps[-1], ProductionStep):
            raise PydanticCustomError(
                "order", 'the last step must be kind = "production"', {"at": [len(steps) - 1, "kind"]}
            )
        return steps

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


DEFAULT_PLAN = """\
# agentgov's default rollout plan: shadow, canary at 5, 25 and 50 percent, production.
name = "default"

[[steps]]
kind = "shadow"
mirror = 1.0
min_requests = 1000
min_minutes = 10

[steps.analysis]
shadow_agreement = 0.95
drift = true

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.01
mde = 0.04

[[steps.analysis.metrics]]
name = "latency_p95_ms"
margin = 0.1
mde = 0.3
relative = true

[[steps]]
kind = "canary"
percent = 5
min_minutes = 10

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.01
mde = 0.04

[[steps.analysis.metrics]]
name = "latency_p95_ms"
margin = 0.1
mde = 0.3
relative = true

[[steps.analysis.metrics]]
name = "cost"
margin = 0.1
mde = 0.3
relative = true

[[steps]]
kind = "canary"
percent = 25
min_minutes = 10

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.01
mde = 0.03

[[steps.analysis.metrics]]
name = "latency_p95_ms"
margin = 0.1
mde = 0.2
relative = true

[[steps]]
kind = "canary"
percent = 50
min_minutes = 10

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.01
mde = 0.03

[[steps.analysis.metrics]]
name = "latency_p95_ms"
margin = 0.1
mde = 0.2
relative = true

[[steps]]
kind = "production"
"""


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan, and where."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.field}: {self.message}"


class PlanError(AgentgovError):
    """A rollout plan is missing or invalid; ``problems`` lists every problem found, one line each."""

    def __init__(self, problems: Iterable[PlanProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


TOP = "(top level)"
FILE = "(file)"


def default_plan() -> RolloutPlan:
    """The plan a rollout follows when it is given none."""
    return parse_plan(DEFAULT_PLAN, "(default plan)")


def load_plan(path: Path | str) -> RolloutPlan:
    """Read and validate a TOML plan; raises :class:`PlanError` listing every problem with its line."""
    path = Path(path)
    try:
        if not path.is_file():
            raise PlanError(
                [PlanProblem(str(path), 1, FILE, "no such file" if not path.exists() else "not a regular file")]
            )
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PlanError([PlanProblem(str(path), 1, FILE, f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise PlanError([PlanProblem(str(path), 1, FILE, f"over {MAX_BYTES:,} bytes; a plan is a short file")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlanError(
            [PlanProblem(str(path), raw[: exc.start].count(b"\n") + 1, FILE, f"not UTF-8 text (byte {exc.start})")]
        ) from None
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str = "(plan)") -> RolloutPlan:
    """Validate a plan given as TOML text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        raise PlanError(
            [PlanProblem(source, int(found.group(1)) if found else 1, "(toml)", f"invalid TOML: {message}")]
        ) from None
    try:
        return RolloutPlan.model_validate(data)
    except ValidationError as exc:
        lines = _lines(text)
        problems = {_problem(source, lines, data, error) for error in exc.errors()}
        raise PlanError(sorted(problems, key=lambda p: (p.line, p.field))) from None


def _problem(source: str, lines: Mapping[tuple[Any, ...], int], data: Any, error: Any) -> PlanProblem:
    raw_loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    # A step's errors carry its kind as a part of the path (steps.1.canary.percent): drop it.
    loc = tuple(p for i, p in enumerate(raw_loc) if not (i == 2 and raw_loc[0] == "steps" and p in STEP_KINDS))
    loc = (*loc, *ctx.get("at", ()))
    if kind == "missing":
        message = "required, but missing"
    elif kind == "extra_forbidden":
        allowed = _keys_at(raw_loc[:-1])
        message = f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"
    elif kind == "union_tag_not_found":
        loc, message = (*loc, "kind"), f"required, but missing: expected one of {', '.join(STEP_KINDS)}"
    elif kind == "union_tag_invalid":
        loc, message = (
            (*loc, "kind"),
            f"unknown step kind {_short(ctx.get('tag'))}: expected one of {', '.join(STEP_KINDS)}",
        )
    elif kind == "literal_error" and loc[-1:] == ("name",) and "metrics" in loc:
        message = f"unknown metric {_short(error.get('input'))}: expected one of {', '.join(METRIC_NAMES)}"
    else:
        message = error["msg"][:1].lower() + error["msg"][1:]
        value = error.get("input")
        if "value" not in ctx and isinstance(value, str | int | float | bool):
            message += f", got {_short(value)}"
    return PlanProblem(source, _line(lines, loc), _dotted(loc), message)


def _dotted(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or TOP


def _lines(text: str) -> dict[tuple[Any, ...], int]:
    """The line of each table and key of a TOML document, by path (arrays of tables counted from 0).

    Keys inside inline tables and multi-line arrays are not located; their
    errors point at the key that holds them.
    """
    lines: dict[tuple[Any, ...], int] = {}
    counts: dict[tuple[Any, ...], int] = {}
    current: tuple[Any, ...] = ()

    def resolve(parts: Sequence[str]) -> tuple[Any, ...]:
        path: tuple[Any, ...] = ()
        for part in parts:
            path = (*path, part)
            if path in counts:
                path = (*path, counts[path])
        return path

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if match := re.match(r"^\[\[\s*([^\[\]]+?)\s*\]\]", line):
            parts = resolve(_key_parts(match.group(1))[:-1])
            table = (*parts, _key_parts(match.group(1))[-1])
            counts[table] = counts.get(table, -1) + 1
            current = (*table, counts[table])
            lines.setdefault(table, number)
            lines[current] = number
        elif match := re.match(r"^\[\s*([^\[\]]+?)\s*\]", line):
            current = resolve(_key_parts(match.group(1)))
            lines[current] = number
        elif match := re.match(
            r"^((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=", line
        ):
            lines.setdefault((*current, *_key_parts(match.group(1))), number)
    return lines


def _key_parts(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", key)]


def _line(lines: Mapping[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _keys_at(loc: Sequence[Any]) -> list[str]:
    """The keys the model at ``loc`` (a pydantic path, step kinds included) allows, for "unknown key" messages."""
    current: Any = RolloutPlan
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if get_origin(current) is list and args else None
        elif part in STEP_MODELS and get_origin(current) in (Union, UnionType):
            current = STEP_MODELS[part]
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` to ``X`` (a union of several models stays a union)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation
