"""What the governed runtime costs per tool call, side by side with calling the tool directly.

    python benchmarks/runtime_overhead.py [--calls 10000] [--repeat 5]

A no-op tool (a connector kind whose ``call`` returns a constant) is called
``--calls`` times in process: as a plain function call; through the runtime in
``live`` mode (declared and scope checks, the arguments checked against a
small JSON Schema, the rate-limit bucket, the call in a worker thread with a
time limit, the result checked as JSON, the call masked and recorded); in
``shadow`` mode answered from the tool's stub (no worker thread); and in
``replay`` mode from a recorded trace. Each figure is the median of
``--repeat`` runs, per call. No registry, no plugin manager: only the runtime.
Then the parts of a live call on their own: the schema check, masking the
arguments for the trace, and the hand-off to a worker thread and back (which
grows with the machine's load: the worker must be scheduled).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from agentgov.registry.runtime import AgentRuntime, ToolCall, Trace
from agentgov.registry.runtime.limits import run_with_timeout

ARGS = {"ticket_id": 42, "priority": "high", "note": "customer asked twice"}
SCHEMA = {
    "type": "object",
    "properties": {
        "ticket_id": {"type": "integer"},
        "priority": {"enum": ["low", "normal", "high"]},
        "note": {"type": "string"},
    },
    "required": ["ticket_id", "priority"],
}


class NoOp:
    name, description = "noop", "returns a constant"

    def connect(self, settings):
        return self

    def call(self, action, args):
        return {"ok": True}

    def close(self):
        pass


def runtime() -> AgentRuntime:
    manifest = {
        "name": "bench-agent",
        "description": "d",
        "owners": ["o"],
        "risk_tier": "low",
        "entrypoint": "a.py:A",
        "example_request": {},
        "connectors": [{"name": "helpdesk", "kind": "noop", "scopes": ["tickets:write"], "rate_limit": "1000000000/s"}],
        "tools": [
            {
                "connector": "helpdesk",
                "action": "set_priority",
                "schema": "s.json",
                "scope": "tickets:write",
                "stub": {"ok": True},
            }
        ],
    }
    return AgentRuntime.from_manifest(manifest, {"helpdesk.set_priority": SCHEMA}, kinds={"noop": NoOp()})


def per_call(fn: Callable[[], object], calls: int, repeat: int) -> float:
    """Median microseconds per call over ``repeat`` runs of ``calls`` calls, after one warm-up run."""
    samples = []
    for index in range(repeat + 1):
        started = time.perf_counter()
        fn()
        if index:
            samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    calls = options.calls
    tool = NoOp()
    rt = runtime()
    recorded = Trace(
        "r",
        calls=tuple(
            ToolCall(i, "helpdesk.set_priority", dict(ARGS), "ok", {"ok": True}, executed=True) for i in range(calls)
        ),
    )

    def direct() -> None:
        for _ in range(calls):
            tool.call("set_priority", ARGS)

    def live() -> None:
        ctx = rt.context("live")
        for _ in range(calls):
            ctx.call("helpdesk.set_priority", ARGS)

    def shadow() -> None:
        ctx = rt.context("shadow")
        for _ in range(calls):
            ctx.call("helpdesk.set_priority", ARGS)

    def replay() -> None:
        ctx = rt.context("replay", paired=recorded)
        for _ in range(calls):
            ctx.call("helpdesk.set_priority", ARGS)

    base = per_call(direct, calls, options.repeat)
    print(f"{calls:,} calls of a no-op tool, median of {options.repeat} runs, per call:")
    print(f"  {'direct function call':<34} {base:8.2f} us")
    for name, fn in (
        ("runtime, live (worker thread)", live),
        ("runtime, shadow (stub)", shadow),
        ("runtime, replay (recorded trace)", replay),
    ):
        cost = per_call(fn, calls, options.repeat)
        print(f"  {name:<34} {cost:8.2f} us   (+{cost - base:.2f} us over direct)")
    spec = rt.tools["helpdesk.set_priority"]
    ctx = rt.context("live")
    parts = (
        ("schema check (jsonschema)", lambda: rt.check_args(spec, ARGS)),
        ("masking the arguments", lambda: ctx._mask(ARGS)),
        ("worker thread hand-off", lambda: run_with_timeout(lambda: None, 10)),
    )
    print("parts of a live call, per call:")
    for name, part in parts:

        def loop(part: Callable[[], object] = part) -> None:
            for _ in range(calls):
                part()

        print(f"  {name:<34} {per_call(loop, calls, options.repeat):8.2f} us")


if __name__ == "__main__":
    main()
