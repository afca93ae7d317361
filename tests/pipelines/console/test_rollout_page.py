"""The rollout page over a real rollout (its state in the registry, its analysis from the inference log), and the
agents page showing it in progress; the chart's drawing as pure logic."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from ..rollout.conftest import SMALL_PLAN, write_traffic
from .conftest import ConsoleHome, clone_candidate


@pytest.fixture(scope="module")
def rolled(console_home: ConsoleHome) -> Iterator[tuple[TestClient, int, Any]]:
    """A candidate cloned from production, its rollout through the shadow step (passed), now entering canary."""
    from agentgov.deploy.plan import parse_plan
    from agentgov.pipelines.console.app import create_app
    from agentgov.pipelines.rollout import actions, controller

    src = console_home.sources
    candidate = clone_candidate(console_home)
    ctx = src.rollout_context
    actions.start(ctx, console_home.name, candidate, parse_plan(SMALL_PLAN, "small.toml"), actor="alice")
    observing = controller.tick(ctx, console_home.name)  # into shadow, mirroring
    write_traffic(ctx, observing, 300)
    entering = controller.tick(ctx, console_home.name)  # the shadow analysis passes: on to canary
    assert entering.step == 1 and entering.status == "running", entering.detail
    with TestClient(create_app(src)) as client:
        yield client, candidate, entering


def test_rollout_page_shows_the_step_each_metric_against_its_margin_and_the_controller_state(
    rolled: Any, console_home: ConsoleHome
) -> None:
    client, candidate, state = rolled
    page = client.get(f"/agents/{console_home.name}/rollout").text
    assert f"v{candidate} over v{console_home.version}" in page
    assert str(state.describe_step()) in page.split('id="step"', 1)[1].split("</p>", 1)[0]
    checks = page.split('id="checks"', 1)[1].split("</table>", 1)[0]
    assert "<td>error_rate</td>" in checks and "<td>shadow_agreement</td>" in checks
    assert checks.count('<span class="badge pass">pass</span>') == 2
    assert "production 300" in page and "candidate 300" in page
    assert f'"id": "{state.id}"' in page.split('id="state"', 1)[1]  # the controller's committed state


def test_agents_page_shows_the_rollout_in_progress(rolled: Any, console_home: ConsoleHome) -> None:
    client, candidate, _ = rolled
    page = client.get("/").text
    row = page.split(f'href="/agents/{console_home.name}"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/agents/{console_home.name}/rollout">v{candidate}: ' in row
    assert "(running)" in row


def test_the_chart_draws_each_metric_seen_twice_with_its_margin() -> None:
    from agentgov.pipelines.console.queries import charts

    def point(*pairs: tuple[str, float]) -> dict[str, Any]:
        return {"checks": [{"metric": m, "difference": d, "margin": 0.05} for m, d in pairs]}

    (drawn,) = charts([point(("error_rate", 0.0), ("latency", 1.0)), point(("error_rate", 0.1))], width=100, height=10)
    assert drawn["metric"] == "error_rate" and drawn["n"] == 2
    assert drawn["points"] == "0.0,10.0 100.0,0.0"  # 0 at the bottom, the largest difference at the top
    assert drawn["margin_y"] == 5.0  # 0.05 of 0..0.1
