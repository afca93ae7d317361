"""The gateway as a real server: ``agentgov gateway`` (uvicorn) in a subprocess on loopback, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from agentgov.evals import inference_log
from agentgov.pipelines.runtime import free_port


def test_sigterm_stops_the_gateway_with_every_row_written(gateway_agent) -> None:
    gateway_agent.route(production=1, shadow=2, mirror_share=1.0, rollout_id="r-sigterm")
    before = inference_log.read(gateway_agent.config.home, gateway_agent.name)
    port = free_port()
    executable = str(Path(sys.executable).parent / "agentgov")
    env = {**os.environ, "AGENTGOV_HOME": str(gateway_agent.config.home), "AGENTGOV_NO_SERVER": "1"}
    log = gateway_agent.root / f"gateway-{port}.log"
    with open(log, "wb") as out:
        # Rows wait up to a minute for a batch of 10,000: only the shutdown writes them.
        server = subprocess.Popen(
            [
                executable,
                "gateway",
                gateway_agent.name,
                "--port",
                str(port),
                "--log-batch",
                "10000",
                "--log-wait",
                "60",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=gateway_agent.root,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        ids = []
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in range(30):
                answer = client.post("/act", json={"subject": f"sigterm {i}"})
                assert answer.status_code == 200 and answer.json()["version"] == 1
                ids.append(answer.headers["X-Agentgov-Request-Id"])
            metrics = client.get("/metrics").text
        assert 'role="production",version="1"} 30.0' in metrics
        assert (
            inference_log.read(gateway_agent.config.home, gateway_agent.name).shape[0] == before.shape[0]
        )  # all buffered
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down (lifespan: shadow copies finish, rows written), then re-raises the signal, as servers do.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    after = inference_log.read(gateway_agent.config.home, gateway_agent.name).iloc[len(before) :]
    assert sorted(after[after["stage"] == "production"]["request_id"]) == sorted(ids)
    assert sorted(after[after["stage"] == "shadow"]["pairing_id"]) == sorted(ids)  # the copies that ran too


def test_an_unknown_agent_is_one_line_and_exit_2(gateway_agent) -> None:
    env = {**os.environ, "AGENTGOV_HOME": str(gateway_agent.config.home), "AGENTGOV_NO_SERVER": "1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "agentgov"), "gateway", "no-such-agent", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=gateway_agent.root,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "no-such-agent" in result.stderr and "Traceback" not in result.stderr
