"""Cost and tokens on the real gateway's traffic: what each version reports in its response reaches the inference log,
the pairs' deltas and the step's metrics, and a candidate that answers alike but spends three times the tokens is
rolled back at its shadow step with production unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentgov.core.types import AgentRef, Stage
from agentgov.deploy.plan import parse_plan
from agentgov.pipelines.rollout import actions
from agentgov.pipelines.rollout.state import ROLLED_BACK
from agentgov.registry.store import aliases
from tests.pipelines.rollout.test_gateway_stops import (
    BASE_ROUTER,
    SHADOW_PLAN,
    audit_story,
    drive_with_traffic,
    productions,
    register_variant,
    ticket,
)

REPORTS_USAGE = BASE_ROUTER.replace(
    "    def act(self, request: dict) -> dict:\n",
    "    def act(self, request: dict) -> dict:\n"
    "        answer = self._route(request)\n"
    "        prompt = 40 + len(str(request.get('body', ''))) // 4\n"
    "        output = OUTPUT_TOKENS + int(request.get('n', 0)) % 13  # answers vary in length, as a model's do\n"
    "        answer['usage'] = {'input_tokens': prompt, 'output_tokens': output}\n"
    "        answer['cost'] = (prompt + output) * 2e-6\n"
    "        return answer\n\n"
    "    def _route(self, request: dict) -> dict:\n",
).replace("class SupportRouter:", "OUTPUT_TOKENS = 20\n\n\nclass SupportRouter:")

VERBOSE = REPORTS_USAGE.replace("OUTPUT_TOKENS = 20\n", "OUTPUT_TOKENS = 200\n")

TOKENS_PLAN = SHADOW_PLAN.replace(
    '[[steps]]\nkind = "canary"',
    '[[steps.analysis.metrics]]\nname = "tokens"\nmargin = 0.2\nmde = 0.5\nrelative = true\n\n[[steps]]\nkind = "canary"',
    1,
)


def test_a_candidate_spending_three_times_the_tokens_is_rolled_back_at_shadow(
    ctx: Any, rollout_agent: Any, tmp_path: Path
) -> None:
    from agentgov.evals import inference_log
    from agentgov.pipelines.promotion import promote

    assert REPORTS_USAGE != BASE_ROUTER and VERBOSE != REPORTS_USAGE and TOKENS_PLAN.count('name = "tokens"') == 1
    name = rollout_agent.name
    frugal = register_variant(ctx, rollout_agent, tmp_path / "frugal", REPORTS_USAGE)
    promote(ctx.config, AgentRef(name, version=frugal), Stage.PRODUCTION, actor="alice", audit=ctx.audit,
            plugins=ctx.plugins)
    verbose = register_variant(ctx, rollout_agent, tmp_path / "verbose", VERBOSE)
    state = actions.start(ctx, name, verbose, parse_plan(TOKENS_PLAN, "tokens.toml"), actor="alice")

    final, seen = drive_with_traffic(ctx, name, ticket)

    assert (final.status, final.step) == (ROLLED_BACK, 0), final.detail
    assert aliases(ctx.client, name)["production"] == frugal and productions(ctx, name) == [frugal]
    assert set(seen.answered) == {frugal} and set(seen.statuses) == {200}
    story = audit_story(ctx, name, state.id)
    assert [r.action for r in story] == ["rollout.started", "rollout.step_entered", "rollout.rolled_back"]
    checks = {c["check"]: c for c in story[-1].payload["analysis"]["checks"]}
    assert checks["tokens"]["verdict"] == "fail", checks
    assert checks["shadow_agreement"]["verdict"] != "fail", checks  # the same actions and tool calls: only the spend differs
    assert checks["shadow_agreement"]["mean_tokens_delta"] == 180.0, checks
    assert checks["shadow_agreement"]["mean_cost_delta"] == pytest.approx(180 * 2e-6), checks

    log = inference_log.read(ctx.config.home, name)
    rows = log[log["rollout_id"] == state.id]
    production, shadow = rows[rows["stage"] == "production"], rows[rows["stage"] == "shadow"]
    assert len(production) >= 60 and len(shadow) >= 60
    prompt = 40 + len("Please refund me.") // 4
    tokens = production["request.n"].map(lambda n: prompt + 20 + n % 13)
    assert production["tokens"].tolist() == tokens.tolist()
    assert (shadow["tokens"] - shadow["request.n"].map(lambda n: prompt + 200 + n % 13)).abs().max() == 0
    assert (production["cost"] - tokens * 2e-6).abs().max() < 1e-12

    from tests.cli.test_rollout_commands import agentgov

    shown = agentgov("rollout", "status", name)
    assert shown.returncode == 0, shown.stderr
    assert "per pair, shadow minus production (mean): latency " in shown.stdout
    assert "cost +0.00036, tokens +180 (latency in ms)" in shown.stdout, shown.stdout
