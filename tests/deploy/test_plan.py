"""Rollout plans in TOML: the default plan, and one line per problem with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgov.core.errors import AgentgovError
from agentgov.deploy.plan import (
    DEFAULT_PLAN,
    METRIC_NAMES,
    CanaryStep,
    PlanError,
    ProductionStep,
    ShadowStep,
    default_plan,
    load_plan,
    parse_plan,
)
from agentgov.evals.analysis import METRICS

SHADOW = '[[steps]]\nkind = "shadow"\nmin_requests = 500\n'
PRODUCTION = '[[steps]]\nkind = "production"\n'


def _problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.toml")
    return [str(p) for p in caught.value.problems]


def test_the_plan_knows_the_metrics_the_analysis_judges() -> None:
    assert METRIC_NAMES == tuple(METRICS)


def test_the_default_plan_shadows_then_canaries_at_5_25_50_then_promotes() -> None:
    plan = default_plan()
    kinds = [type(step) for step in plan.steps]
    assert kinds == [ShadowStep, CanaryStep, CanaryStep, CanaryStep, ProductionStep]
    assert [step.weight for step in plan.steps if isinstance(step, CanaryStep)] == [0.05, 0.25, 0.5]
    shadow = plan.steps[0]
    assert shadow.min_requests == 1000 and shadow.analysis.shadow_agreement == 0.95 and shadow.analysis.drift
    error_rate = shadow.analysis.metrics[0]
    assert (error_rate.name, error_rate.margin, error_rate.mde, error_rate.relative) == (
        "error_rate",
        0.01,
        0.04,
        False,
    )
    assert shadow.analysis.alpha == 0.05 and shadow.analysis.power == 0.8
    assert plan.to_dict()["steps"][-1] == {"kind": "production"}


def test_a_plan_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(
        SHADOW
        + "[steps.analysis.policies.shadow-agreement]\nmin_requests = 200\n"
        + '[[steps]]\nkind = "canary"\npercent = 10\n'
        + '[[steps.analysis.metrics]]\nname = "latency_p95_ms"\nmargin = 0.1\nmde = 0.5\nrelative = true\n'
        + PRODUCTION
    )
    plan = load_plan(path)
    assert plan.steps[0].analysis.policies == {"shadow-agreement": {"min_requests": 200}}
    assert plan.steps[1].weight == 0.1 and plan.steps[1].analysis.metrics[0].relative


def test_every_field_problem_is_one_line_with_file_line_and_field() -> None:
    problems = _problems(
        '[[steps]]\nkind = "shadow"\nmin_requests = 10.5\ncolour = 1\n'  # lines 1-4
        "[steps.analysis]\nshadow_agreement = 1.5\n"  # 5-6
        '[[steps.analysis.metrics]]\nname = "accuracy"\nmargin = 0.1\nmde = 0.2\n'  # 7-10
        '[[steps.analysis.metrics]]\nname = "error_rate"\nmargin = 0.03\nmde = 0.02\n'  # 11-14
        '[[steps]]\nkind = "canary"\npercent = 120\n'  # 15-17
        '[[steps]]\nkind = "blue"\n'  # 18-19
        "[[steps]]\nmirror = 1\n"  # 20-21
    )
    assert problems == [
        "plan.toml, line 3: steps[0].min_requests: input should be a valid integer, got 10.5",
        "plan.toml, line 4: steps[0].colour: unknown key (expected one of: min_requests, min_minutes, max_minutes, analysis, kind, mirror)",
        "plan.toml, line 6: steps[0].analysis.shadow_agreement: input should be less than or equal to 1, got 1.5",
        "plan.toml, line 8: steps[0].analysis.metrics[0].name: unknown metric 'accuracy': expected one of error_rate, latency_p95_ms, latency_mean_ms, cost, tokens",
        "plan.toml, line 14: steps[0].analysis.metrics[1].mde: mde (0.02) must be larger than margin (0.03): a smaller regression cannot be caught",
        "plan.toml, line 17: steps[1].percent: expected a percentage above 0 and below 100, got 120",
        "plan.toml, line 19: steps[2].kind: unknown step kind 'blue': expected one of shadow, canary, production",
        "plan.toml, line 20: steps[3].kind: required, but missing: expected one of shadow, canary, production",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SHADOW, 'line 2: steps[0].kind: the last step must be kind = "production"'),
        (PRODUCTION + SHADOW, "line 2: steps[0].kind: the production step must be the last step"),
        (
            '[[steps]]\nkind = "canary"\npercent = 25\n[[steps]]\nkind = "canary"\npercent = 5\n' + PRODUCTION,
            "line 6: steps[1].percent: canary percentages must rise from step to step: 5 after 25",
        ),
        (
            '[[steps]]\nkind = "canary"\npercent = 5\n' + SHADOW + PRODUCTION,
            "line 5: steps[1].kind: a shadow step must come before the canary steps",
        ),
        (
            '[[steps]]\nkind = "shadow"\n' + PRODUCTION,
            "line 1: steps[0].min_requests: a shadow step needs min_requests or min_minutes above 0",
        ),
        (
            '[[steps]]\nkind = "canary"\npercent = 5\n[steps.analysis]\nshadow_agreement = 0.9\n' + PRODUCTION,
            "line 5: steps[0].analysis.shadow_agreement: shadow_agreement applies to shadow steps",
        ),
        (
            SHADOW
            + '[[steps.analysis.metrics]]\nname = "error_rate"\nmargin = 0.0\nmde = 0.03\nrelative = true\n'
            + PRODUCTION,
            "line 8: steps[0].analysis.metrics[0].relative: error_rate takes an absolute margin",
        ),
        (
            SHADOW + '[[steps.analysis.metrics]]\nname = "cost"\nmargin = 0.0\nmde = 0.3\n'
            '[[steps.analysis.metrics]]\nname = "cost"\nmargin = 0.0\nmde = 0.3\n' + PRODUCTION,
            "line 9: steps[0].analysis.metrics[1].name: metric cost is listed twice (first at index 0)",
        ),
        (
            SHADOW + "max_minutes = 1\nmin_minutes = 5\n" + PRODUCTION,
            "line 4: steps[0].max_minutes: max_minutes (1) is shorter than min_minutes (5)",
        ),
        (
            SHADOW + '[steps.analysis]\nalpha = 0.5\npower = "high"\n' + PRODUCTION,
            "line 5: steps[0].analysis.alpha: input should be less than 0.5",
        ),
        ("steps = []\n", "line 1: steps: list should have at least 1 item"),
        ("name = 1\n", "line 1: name: input should be a valid string, got 1"),
        ('[[steps]\nkind = "shadow"\n', "line 1: (toml): invalid TOML"),
    ],
)
def test_a_bad_plan_names_its_first_problem(text: str, expected: str) -> None:
    problems = _problems(text)
    assert problems[0].startswith(f"plan.toml, {expected}"), problems


def test_a_missing_or_odd_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"nothere.toml, line 1: \(file\): no such file"):
        load_plan(tmp_path / "nothere.toml")
    (tmp_path / "big.toml").write_bytes(b"#" * (300 << 10))
    with pytest.raises(PlanError, match="a plan is a short file"):
        load_plan(tmp_path / "big.toml")
    (tmp_path / "latin.toml").write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(PlanError, match="not UTF-8"):
        load_plan(tmp_path / "latin.toml")
    assert issubclass(PlanError, AgentgovError) and PlanError.exit_code == 2


def test_the_default_plan_text_is_what_default_plan_reads() -> None:
    assert parse_plan(DEFAULT_PLAN) == default_plan()
