"""The gateway's HTTP/1.1 client against a real uvicorn server on loopback: lengths, chunks, keep-alive, closes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from agentgov.pipelines.gateway.wire import WireClient
from agentgov.pipelines.runtime import free_port


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[int]]]:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    peers: list[int] = []

    async def echo(request):
        peers.append(request.client.port)
        return JSONResponse({"got": await request.json()})

    async def chunks(request):
        async def parts():
            for part in (b'{"a":', b" [1, 2", b", 3]}"):
                yield part

        return StreamingResponse(parts(), media_type="application/json")

    async def closing(request):
        return Response(b'{"bye": true}', headers={"Connection": "close"}, media_type="application/json")

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/chunks", chunks), Route("/close", closing)])
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=1)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", peers
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def test_json_bodies_chunks_keep_alive_and_a_closed_connection(server) -> None:
    url, peers = server

    async def main() -> None:
        client = WireClient(url)
        try:
            for i in range(5):
                reply = await client.request("POST", "/echo", {"n": i, "text": "é"})
                assert reply.status == 200 and reply.json() == {"got": {"n": i, "text": "é"}}
            assert len(set(peers[-5:])) == 1  # one kept-alive connection for all five
            assert (await client.request("GET", "/chunks")).json() == {"a": [1, 2, 3]}
            assert (await client.request("GET", "/close")).json() == {"bye": True}
            assert (await client.request("GET", "/missing")).status == 404
            answers = await asyncio.gather(*(client.request("POST", "/echo", {"n": i}) for i in range(20)))
            assert [a.json()["got"]["n"] for a in answers] == list(range(20))
            with pytest.raises(TimeoutError):  # a cancelled call's connection is closed, the next call still works
                async with asyncio.timeout(0.000001):
                    await client.request("POST", "/echo", {"n": -1})
            assert (await client.request("POST", "/echo", {"n": 1})).json() == {"got": {"n": 1}}
            before = peers[-1]
            await asyncio.sleep(1.3)  # past the server's keep-alive timeout: it closed every idle connection
            assert (await client.request("POST", "/echo", {"n": 2})).json() == {"got": {"n": 2}}
            assert peers[-1] != before  # on a new connection, without an error
        finally:
            await client.close()

    asyncio.run(main())
