"""Upstreams over HTTP: a real served bento (``bentoml serve``) behind the gateway's HttpUpstream."""

from __future__ import annotations

import asyncio

import pytest

from agentgov.pipelines.gateway.upstreams import HttpUpstream, UpstreamError


def test_a_served_bento_answers_live_and_shadow_copies_through_act_traced_with_its_trace(
    served_agent, bento_server: str
) -> None:
    from agentgov.registry import load_agent

    request = {"subject": "Charged twice", "body": "I was charged twice for my subscription, please refund me."}
    expected = load_agent(f"{served_agent.name}/{served_agent.version}", served_agent.config).act(request)

    async def main() -> None:
        upstream = HttpUpstream(bento_server, served_agent.version, timeout_s=10)
        try:
            assert await upstream.ready()
            for _ in range(3):
                answer = await upstream.act(request, trace_id="t-1")
                assert answer.response == expected
                assert answer.trace is not None and answer.trace.trace_id == "t-1" and answer.trace.mode == "live"
            shadow = await upstream.act(request, mode="shadow", trace_id="t-2", paired=answer.trace)
            assert shadow.response == expected and shadow.trace.mode == "shadow"
        finally:
            await upstream.close()
        gone = HttpUpstream("http://127.0.0.1:9", 1, timeout_s=2)
        assert not await gone.ready()
        with pytest.raises(UpstreamError, match="did not answer"):
            await gone.act(request, trace_id="t-4")

    asyncio.run(main())
