"""The console's pages through Starlette's TestClient, against the module's real registry and audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import markupsafe
import pytest
from starlette.testclient import TestClient

from .conftest import HOSTILE, ConsoleHome, clone_candidate


@pytest.fixture(scope="module")
def client(console_home: ConsoleHome) -> Iterator[TestClient]:
    from agentgov.pipelines.console.app import create_app

    with TestClient(create_app(console_home.sources)) as test_client:
        yield test_client


def _get(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.text.rpartition("</h1>")[2][:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_agents_page_shows_who_holds_production_the_last_decision_and_the_drift_badge(
    client: Any, console_home: ConsoleHome
) -> None:
    page = _get(client, "/")
    row = page.split(f'href="/agents/{console_home.name}"', 1)[1].split("</tr>", 1)[0]
    assert f"<td>v{console_home.version}</td>" in row  # production
    assert f'/decisions/{console_home.allowed.id}"' in row and "allowed" in row
    assert '<span class="badge insufficient-data">insufficient data</span>' in row
    assert "none" in row  # no rollout


def test_the_review_queue_holds_the_decision_waiting_for_a_person_and_not_the_settled_ones(
    client: Any, console_home: ConsoleHome
) -> None:
    for page in (_get(client, "/review"), _get(client, "/")):
        assert f"/decisions/{console_home.waiting.id}" in page
        assert f"/decisions/{console_home.blocked.id}" not in page.split('id="queue"', 1)[1]


def test_agent_page_lists_versions_lineage_history_and_decisions(client: Any, console_home: ConsoleHome) -> None:
    version = console_home.sources.client.get_model_version(console_home.name, str(console_home.version))
    commit = version.tags["agentgov.lineage.git_commit"]
    page = _get(client, f"/agents/{console_home.name}")
    versions = page.split('id="versions"', 1)[1].split("</table>", 1)[0]
    assert f"v{console_home.version}" in versions and "production" in versions and "<td>alice</td>" in versions
    assert f"<code>{commit[:12]}</code>" in versions
    assert "items</summary>" in versions  # the bill of materials
    timeline = page.split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    assert "alice moved v1" in timeline.replace(f"v{console_home.version}", "v1") and "production" in timeline
    assert f"/decisions/{console_home.allowed.id}" in timeline
    decisions = page.split('id="decisions"', 1)[1]
    for made in (console_home.waiting, console_home.blocked, console_home.allowed):
        assert f"/decisions/{made.id}" in decisions
    assert "MLflow</a>" not in page  # a sqlite store has no UI to link


def test_what_was_live_at_a_moment_before_and_after_the_promotion(client: Any, console_home: ConsoleHome) -> None:
    before = _get(client, f"/agents/{console_home.name}?at=2000-01-01T00:00")
    held = before.split('id="held-at"', 1)[1].split("</table>", 1)[0]
    assert f"v{console_home.version}" not in held
    after = _get(client, f"/agents/{console_home.name}?at=2999-01-01T00:00")
    held = after.split('id="held-at"', 1)[1].split("</table>", 1)[0]
    assert f"<td>production</td><td>v{console_home.version}</td>" in held
    assert f"/decisions/{console_home.allowed.id}" in held
    assert "Cannot show this" in _get(client, f"/agents/{console_home.name}?at=yesterday-ish", 400)


def test_decision_page_shows_each_policy_verdict_mode_reason_and_the_approvals(
    client: Any, console_home: ConsoleHome
) -> None:
    blocked = _get(client, f"/decisions/{console_home.blocked.id}")
    results = blocked.split('id="results"', 1)[1].split("</table>", 1)[0]
    (result,) = console_home.blocked.results
    assert result.policy == "human-approval"
    assert '<span class="badge fail">fail</span>' in results and "<td>enforce</td>" in results
    assert str(markupsafe.escape(result.reason)) in results
    approvals = blocked.split('id="approvals"', 1)[1]
    assert "<td>bob</td>" in approvals and "looked at &lt;it&gt;" in approvals
    waiting = _get(client, f"/decisions/{console_home.waiting.id}")
    assert "badge inconclusive" in waiting and "insufficient data for a drift verdict" in waiting


def test_unknown_things_are_404_pages_not_tracebacks(client: Any, console_home: ConsoleHome) -> None:
    assert "not found" in _get(client, "/agents/no-such-agent", 404)
    assert "not found" in _get(client, "/decisions/0000", 404)
    assert "has no rollout" in _get(client, f"/agents/{console_home.name}/rollout", 400)


def test_user_text_is_shown_as_text_never_as_markup(client: Any, console_home: ConsoleHome) -> None:
    for page in (_get(client, "/"), _get(client, f"/agents/{console_home.name}")):
        assert "<script>alert" not in page and "<b>not bold" not in page
        assert str(markupsafe.escape(HOSTILE)) in page  # [bold] stays as typed: HTML knows no rich markup


def test_explain_evaluates_every_policy_now_as_policies_explain_does_and_records_nothing(
    client: Any, console_home: ConsoleHome
) -> None:
    candidate = clone_candidate(console_home)  # the drift tag comes along: too thin to judge
    audit = console_home.sources.audit
    before = sum(1 for _ in audit.records())
    page = _get(client, f"/agents/{console_home.name}/versions/{candidate}/explain?to=canary")
    results = page.split('id="results"', 1)[1].split("</table>", 1)[0]
    assert "drift-within-limits" in results and '<span class="badge inconclusive">' in results
    assert "a dry run: nothing is recorded or moved" in page
    production = _get(client, f"/agents/{console_home.name}/versions/{candidate}/explain?to=production")
    assert "human-approval" in production and '<span class="badge fail">' in production  # bob approved v1 only
    assert sum(1 for _ in audit.records()) == before
    assert "name the stage" in _get(client, f"/agents/{console_home.name}/versions/{candidate}/explain", 400)
    moved_back = _get(client, f"/agents/{console_home.name}/versions/{console_home.version}/explain?to=canary", 400)
    assert "can only move forward" in moved_back  # the gate's own refusal, in one line


def test_drift_badges_name_each_status_and_an_unreadable_tag_is_an_error() -> None:
    from agentgov.pipelines.console.queries import drift_badge

    assert drift_badge(None) == {"status": "none", "label": "no check"}
    assert drift_badge('{"status": "ok"}')["label"] == "ok"
    assert drift_badge('{"status": "drift"}')["label"] == "drift"
    assert drift_badge('{"status": "insufficient-data"}')["label"] == "insufficient data"
    assert drift_badge('{"status": "surprise"}')["label"] == "error"
    assert drift_badge("not json")["label"] == "error"


def test_links_to_the_mlflow_and_prefect_uis_only_where_a_server_has_one(console_home: ConsoleHome) -> None:
    from dataclasses import replace

    from agentgov.pipelines.console.queries import _mlflow_url, _prefect_url

    config = console_home.sources.config
    assert _mlflow_url(config, "a b", 3) is None and _prefect_url(config) is None  # sqlite, embedded Prefect
    served = replace(config, registry_uri="http://127.0.0.1:5000/", prefect_api_url="http://127.0.0.1:4200/api")
    assert _mlflow_url(served, "a b", 3) == "http://127.0.0.1:5000/#/models/a%20b/versions/3"
    assert _prefect_url(served) == "http://127.0.0.1:4200/runs"


def test_audit_page_shows_the_verified_chain_and_filters_by_agent_and_action(
    client: Any, console_home: ConsoleHome
) -> None:
    audit = console_home.sources.audit
    page = _get(client, f"/audit?agent={console_home.name}&action=decision")
    assert f"{audit.verify().records} records, chain intact" in page.split('id="verified"', 1)[1].split("</p>", 1)[0]
    rows = page.split('id="records"', 1)[1].split("</table>", 1)[0]
    decisions = [r for r in audit.records(subject_prefix=console_home.name) if r.action == "decision"]
    assert rows.count("<td>decision</td>") == len(decisions) >= 3
    assert f"/decisions/{console_home.blocked.id}" in rows
    assert "No records match." in _get(client, "/audit?agent=no-such-agent")


def test_an_edited_audit_log_is_shown_as_tampered_naming_the_record(console_home: ConsoleHome, tmp_path: Any) -> None:
    from dataclasses import replace

    from agentgov.core.audit import AuditLog
    from agentgov.pipelines.console.app import create_app

    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(actor="ann", action="note", subject="a/1", payload={"text": "first"})
    log.append(actor="ann", action="note", subject="a/1", payload={"text": "second"})
    path = tmp_path / "audit.jsonl"
    with TestClient(create_app(replace(console_home.sources, audit=log))) as tampered:
        verified = _get(tampered, "/audit").split('id="verified"', 1)[1].split("</p>", 1)[0]
        assert "2 records, chain intact" in verified  # remembered: the next page checks only what was appended
        path.write_text(path.read_text().replace('"first"', '"fir5t"'))  # the same size, in place
        verified = _get(tampered, "/audit").split('id="verified"', 1)[1].split("</p>", 1)[0]
    assert "TAMPERED" in verified and "record 1" in verified and "edited" in verified


def test_every_template_ships_as_package_data() -> None:
    import fnmatch
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    patterns = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    folder = repo / "pipelines" / "console"
    shipped = patterns["agentgov.pipelines.console"]
    templates = [p.relative_to(folder).as_posix() for p in (folder / "templates").rglob("*") if p.is_file()]
    assert templates and all(any(fnmatch.fnmatch(t, pattern) for pattern in shipped) for t in templates), templates


def test_a_stage_change_made_while_the_console_runs_shows_on_the_next_page_load(
    client: Any, console_home: ConsoleHome
) -> None:
    from agentgov.core.audit import AuditLog
    from agentgov.core.types import AgentRef, Stage
    from agentgov.pipelines.promotion import promote

    src = console_home.sources
    for path in ("/", f"/agents/{console_home.name}", "/audit", "/review"):
        _get(client, path)  # read (and indexed) before the change
    candidate = clone_candidate(console_home)
    writer = AuditLog(src.audit.path)  # another process's writer, as the CLI's would be
    _, made = promote(
        src.config,
        AgentRef(console_home.name, version=candidate),
        Stage.SHADOW,
        actor="carol",
        audit=writer,
        plugins=src.plugins,
    )

    row = _get(client, "/").split(f'href="/agents/{console_home.name}"', 1)[1].split("</tr>", 1)[0]
    assert f"<td>v{candidate}</td>" in row and f"/decisions/{made.id}" in row  # shadow, and the last decision
    timeline = _get(client, f"/agents/{console_home.name}").split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    assert f"carol moved v{candidate}" in timeline
    audit = _get(client, "/audit")
    assert f"{writer.verify().records} records, chain intact" in audit
    newest = audit.split('id="records"', 1)[1].split("</tr>", 2)[1]
    assert f"<td>{writer.verify().records}</td>" in newest and "<td>carol</td>" in newest


def test_the_agent_page_shows_versions_a_page_at_a_time_newest_first(
    client: Any, console_home: ConsoleHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentgov.pipelines.console import queries
    from agentgov.registry.store import versions

    monkeypatch.setattr(queries, "VERSIONS_PER_PAGE", 1)
    newest = max(v.version for v in versions(console_home.sources.client, console_home.name))
    first = _get(client, f"/agents/{console_home.name}")
    assert f"<td>v{newest}" in first.split('id="versions"', 1)[1].split("</table>", 1)[0]
    assert f'href="/agents/{console_home.name}?page=2">older</a>' in first and 'rel="prev"' not in first
    last = _get(client, f"/agents/{console_home.name}?page={newest}")
    assert "<td>v1" in last.split('id="versions"', 1)[1].split("</table>", 1)[0] and 'rel="next"' not in last
    assert _get(client, f"/agents/{console_home.name}?page=999") == last  # past the end: the last page
