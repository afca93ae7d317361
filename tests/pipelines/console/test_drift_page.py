"""The drift page on a home where two real drift checks ran (the evidently-drift evaluator, the default): the
checks, the chart of the drifted share, and the stored Evidently report served sandboxed in an iframe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ConsoleHome, run_drift_checks


@pytest.fixture(scope="module")
def drifted(console_home: ConsoleHome) -> tuple[ConsoleHome, list[Any]]:
    return console_home, run_drift_checks(console_home)


@pytest.fixture(scope="module")
def client(drifted: tuple[ConsoleHome, list[Any]]) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from agentgov.pipelines.console.app import create_app

    with TestClient(create_app(drifted[0].sources)) as c:
        yield c


def test_the_drift_page_lists_each_check_and_charts_the_drifted_share(drifted: Any, client: Any) -> None:
    home, (calm, moved) = drifted
    assert calm.result.status.value == "ok" and moved.result.status.value == "drift"
    assert "request.amount" in moved.result.drifted_columns

    page = client.get(f"/agents/{home.name}/drift")
    assert page.status_code == 200, page.text
    rows = page.text.split('<table id="checks">')[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 2
    assert '<span class="badge drift">drift</span>' in rows[0] and "request.amount" in rows[0]
    assert f"{moved.result.share_drifted:.0%}" in rows[0]
    assert '<span class="badge ok">ok</span>' in rows[1]
    assert 'id="share-chart"' in page.text and "<polyline" in page.text
    # the newest report, embedded through the console's own route, sandboxed
    src = f"/agents/{home.name}/drift/{moved.stamp}/report"
    assert f'sandbox="allow-scripts" referrerpolicy="no-referrer"\n src="{src}"' in page.text

    report = client.get(src)
    assert report.status_code == 200
    assert report.text == moved.report.html.read_text(encoding="utf-8")  # the stored file, byte for byte
    policy = report.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts;") and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and report.headers["x-content-type-options"] == "nosniff"


def test_the_badge_and_the_agent_page_link_to_the_drift_page(drifted: Any, client: Any) -> None:
    home, _ = drifted
    link = f'href="/agents/{home.name}/drift"'
    agents = client.get("/").text
    assert f'{link}><span class="badge drift">drift</span></a>' in agents
    assert link in client.get(f"/agents/{home.name}").text


def test_only_a_recorded_report_is_served(drifted: Any, client: Any) -> None:
    home, (calm, _) = drifted
    assert client.get(f"/agents/{home.name}/drift/{calm.stamp}/report").status_code == 200
    for stamp in ("..%2F..%2Fagentgov.toml", "20260101T000000000000Z", "<script>"):
        missing = client.get(f"/agents/{home.name}/drift/{stamp}/report")
        assert missing.status_code == 404 and "<script>" not in missing.text
    assert client.get("/agents/no-such-agent/drift").status_code == 404


def test_the_share_chart_needs_two_checks_and_spans_its_box() -> None:
    from agentgov.pipelines.console import queries

    assert queries.share_chart([{"share": 0.5}]) is None
    chart = queries.share_chart([{"share": 0.0}, {"share": 1.0}], width=100, height=10)
    assert chart is not None and chart["points"] == "0.0,10.0 100.0,0.0"
