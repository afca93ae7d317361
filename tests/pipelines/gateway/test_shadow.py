"""The shadow mirror's bounds, with a stand-in upstream (the queue and the workers are pure asyncio logic; the
real upstreams are in test_service.py and test_host.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from agentgov.pipelines.gateway.shadow import ShadowJob, ShadowMirror, ShadowResult
from agentgov.pipelines.gateway.upstreams import Answer, Busy


class Gate:
    """An upstream that answers only when released, and counts what it was sent."""

    version = 9
    describe = "gate"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.seen: list[str] = []

    async def act(self, request: dict[str, Any], *, mode: str = "live", trace_id: str, paired: Any = None) -> Answer:
        self.seen.append(mode)
        await self.release.wait()
        return Answer({"ok": True}, None)

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def test_a_flood_fills_the_queue_and_the_rest_is_dropped_and_counted_without_waiting() -> None:
    async def main() -> tuple[Counter[str], list[ShadowResult], list[bool], list[str]]:
        dropped: Counter[str] = Counter()
        recorded: list[ShadowResult] = []
        upstream = Gate()
        mirror = ShadowMirror(
            record=recorded.append,
            dropped=lambda reason: dropped.update([reason]),
            queue_size=5,
            workers=2,
            timeout_s=5,
        )
        await mirror.start()
        jobs = [ShadowJob(upstream, {"n": i}, f"r{i}", f"r{i}", f"r{i}.shadow", None, "r") for i in range(20)]
        await asyncio.sleep(0)
        offered = [mirror.offer(job) for job in jobs]  # returns at once: nothing awaits the upstream
        await asyncio.sleep(0.05)  # two workers hold a copy each, five wait in the queue
        upstream.release.set()
        await mirror.stop(grace_s=2)
        assert not mirror.offer(jobs[0])  # stopped: dropped as shutdown
        return dropped, recorded, offered, upstream.seen

    dropped, recorded, offered, seen = asyncio.run(main())
    assert offered.count(True) == 5 and dropped["queue_full"] == 15 and dropped["shutdown"] == 1
    assert len(recorded) == 5 and all(r.error is None for r in recorded) and set(seen) == {"shadow"}


def test_a_copy_past_its_time_limit_is_recorded_as_a_timeout_and_counted() -> None:
    async def main() -> tuple[Counter[str], list[ShadowResult]]:
        dropped: Counter[str] = Counter()
        recorded: list[ShadowResult] = []
        mirror = ShadowMirror(
            record=recorded.append,
            dropped=lambda reason: dropped.update([reason]),
            queue_size=5,
            workers=1,
            timeout_s=0.05,
        )
        await mirror.start()
        mirror.offer(ShadowJob(Gate(), {}, "r", "r", "r.shadow", None, None))
        await asyncio.sleep(0.3)
        await mirror.stop(grace_s=1)
        return dropped, recorded

    dropped, recorded = asyncio.run(main())
    assert dropped["timeout"] == 1 and len(recorded) == 1 and recorded[0].error.startswith("timeout")


class Full:
    """An upstream whose every slot is held (by calls that outlived their time limit): it answers busy."""

    version = 9
    describe = "full"

    def __init__(self) -> None:
        self.calls = 0

    async def act(self, request: dict[str, Any], *, mode: str = "live", trace_id: str, paired: Any = None) -> Answer:
        self.calls += 1
        raise Busy("every slot is taken")

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def test_after_a_busy_answer_copies_are_dropped_as_busy_without_being_sent_until_the_backoff_ends() -> None:
    async def main(backoff_s: float) -> tuple[Counter[str], int, list[ShadowResult]]:
        dropped: Counter[str] = Counter()
        recorded: list[ShadowResult] = []
        upstream = Full()
        mirror = ShadowMirror(
            record=recorded.append,
            dropped=lambda reason: dropped.update([reason]),
            queue_size=100,
            workers=2,
            busy_backoff_s=backoff_s,
        )
        await mirror.start()
        for i in range(30):
            mirror.offer(ShadowJob(upstream, {"n": i}, f"r{i}", f"r{i}", f"r{i}.shadow", None, "r"))
        await mirror.stop(grace_s=5)
        return dropped, upstream.calls, recorded

    dropped, calls, recorded = asyncio.run(main(backoff_s=60))
    # At most one copy per worker went out before the first busy answer came back; none after it.
    assert dropped["busy"] == 30 and 1 <= calls <= 2 and recorded == []
    dropped, calls, recorded = asyncio.run(main(backoff_s=0))
    assert dropped["busy"] == 30 and calls == 30 and recorded == []
