"""Masking credential- and personal-data-looking values in audit payloads."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from agentgov.core import AgentRef, Decision, PolicyResult, hookimpl
from agentgov.core.audit import AuditLog
from agentgov.core.config import load_config
from agentgov.core.errors import ConfigError, InvalidValue
from agentgov.core.home import Home
from agentgov.core.masking import DEFAULT_MASKER, Masker, build_masker, compile_pattern, luhn
from agentgov.core.plugins import PluginManager

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to jane.doe@example.com today", "write to j***@example.com today"),
        ("Authorization: Bearer " + TOKEN, "Authorization: Bearer ***"),
        ("basic auth: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "basic auth: Basic ***"),
        ("key=sk-proj-abcdefghijklmnop1234", "key=sk-proj-***"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_***"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws AKIA***"),
        ("postgresql://agentgov:s3cret@db:5432/mlflow", "postgresql://agentgov:***@db:5432/mlflow"),
        ("card 4111 1111 1111 1111, exp 12/29", "card [card ****1111], exp 12/29"),
        ("card 4242-4242-4242-4242", "card [card ****4242]"),
        ("call +44 20 7946 0958 now", "call [phone] now"),
        ("call (555) 123-4567 or 555.123.4567", "call [phone] or [phone]"),
    ],
)
def test_only_the_matching_part_is_masked(text: str, masked: str) -> None:
    assert DEFAULT_MASKER.text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24T18:45:38.123456+00:00",  # timestamps
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",  # sha256
        uuid.UUID(int=0x4111111111111111_4111111111111111).hex,  # an id full of a card's digits
        "1732470000000",  # epoch milliseconds
        "4111-1111-1111-1112",  # fails the Luhn check: not a card
        "mlflow==3.17.2 pandas==2.3.3",
        "models:/m-0123456789abcdef0123456789abcdef",
        "192.168.100.1 port 5432",
        "the token budget is 4000",
        "task-abcdefghijklmnop",
        "drift +0.012345 on column amount",  # a signed decimal, not a phone
        "delta +12 3456",
        "basic validation passed; Basic Understanding",
        "agent sk-router-production-eu failed",
    ],
)
def test_ordinary_values_are_left_alone(text: str) -> None:
    assert DEFAULT_MASKER.text(text) == text


def test_luhn() -> None:
    assert luhn("4111111111111111") and luhn("378282246310005")
    assert not luhn("4111111111111112")


def test_safe_fields_are_kept_at_any_depth_and_other_values_masked() -> None:
    masker = Masker(safe_fields={"actor", "contact"})
    value = {
        "actor": "ops@example.com",
        "nested": {"contact": "ops@example.com", "note": "ops@example.com", "decision_id": "555-123-4567"},
        "agentgov.lineage.registered_by": "x@example.com",
        "list": ["ops@example.com", 42, None],
    }
    assert masker.value(value) == {
        "actor": "ops@example.com",
        "nested": {"contact": "ops@example.com", "note": "o***@example.com", "decision_id": "555-123-4567"},
        "agentgov.lineage.registered_by": "x***@example.com",  # not in this masker's safe fields
        "list": ["o***@example.com", 42, None],
    }
    assert DEFAULT_MASKER.value({"agentgov.lineage.registered_by": "x@example.com"}) == {"agentgov.lineage.registered_by": "x@example.com"}


def test_a_decision_with_an_email_and_a_bearer_token_is_written_masked_and_still_verifies(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    decision = Decision(
        agent=AgentRef("router", version=3),
        target="production",
        outcome="allowed",
        results=(PolicyResult("eval-thresholds", "pass", "checked 200 tickets from jane.doe@example.com"),),
        actor="alice@example.com",
        config_hash="c" * 64,
    )
    inputs = {"request": {"from": "jane.doe@example.com", "headers": {"X-Forward": f"Bearer {TOKEN}"}}}
    log.append(actor="alice@example.com", action="decision", subject="router/3", payload={**decision.to_dict(), "inputs": inputs})
    log.append(actor="bob", action="stage.change", subject="router/3", payload={"to": "production", "decision_id": decision.id})

    raw = log.path.read_bytes()
    assert b"jane.doe@example.com" not in raw
    assert TOKEN.encode() not in raw
    assert b"j***@example.com" in raw and b"Bearer ***" in raw
    first = json.loads(raw.splitlines()[0])
    assert first["actor"] == "alice@example.com"  # the record's who, and safe fields, stay readable
    assert first["payload"]["actor"] == "alice@example.com"
    assert first["payload"]["id"] == decision.id
    assert first["payload"]["config_hash"] == "c" * 64
    assert log.verify().records == 2
    assert json.loads(raw.splitlines()[1])["prev"] == first["hash"]


def test_masking_is_deterministic() -> None:
    payload = {"inputs": [f"user{i}@example.com Bearer {TOKEN}" for i in range(3)]}
    assert DEFAULT_MASKER.value(payload) == DEFAULT_MASKER.value(payload)


def test_configured_patterns_and_safe_fields_apply(agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text(
        '[masking]\nsafe_fields = ["owner"]\npatterns = { employee-id = "EMP-[0-9]{6}", phone = "", ticket = "ticket (?P<secret>[0-9]+)" }\n'
    )
    config = load_config()
    masker = build_masker(config)
    home = Home(agentgov_home.root, masker=masker)
    home.audit_log.append(
        actor="a",
        action="x",
        subject="router",
        payload={"owner": "o@example.com", "note": "EMP-123456 called 555-123-4567 about ticket 991 from o@example.com"},
    )
    payload = next(home.audit_log.records()).payload
    assert payload == {"owner": "o@example.com", "note": "[employee-id] called 555-123-4567 about ticket [ticket] from o***@example.com"}
    shown = {row[0]: row[1] for row in config.shown()}
    assert shown["masking.safe_fields"] == "owner"


def test_an_invalid_configured_pattern_is_a_config_error_with_its_line(agentgov_home: Home) -> None:
    Path("agentgov.toml").write_text('[masking]\n\npatterns = { broken = "([a-z" }\n')
    with pytest.raises(ConfigError, match=r"agentgov.toml, line 3: masking.patterns: mask pattern 'broken': invalid regular expression"):
        load_config()
    with pytest.raises(InvalidValue, match="matches the empty string"):
        compile_pattern("empty", "x*")


class IbanPlugin:
    @hookimpl
    def agentgov_mask_patterns(self) -> dict[str, str]:
        return {"iban": r"\bGB\d{2}[A-Z]{4}\d{14}\b"}


def test_a_plugin_adds_mask_patterns_through_agentgov_mask_patterns(agentgov_plugins: PluginManager, tmp_path: Path) -> None:
    agentgov_plugins.add(IbanPlugin(), "iban")
    masker = build_masker(None, agentgov_plugins)
    log = AuditLog(tmp_path / "audit.jsonl", masker=masker)
    log.append(actor="a", action="x", subject="s", payload={"refund": "to GB29NWBK60161331926819 for a@example.com"})
    assert next(log.records()).payload == {"refund": "to [iban] for a***@example.com"}
    assert agentgov_plugins.problems == []


def test_bad_mask_patterns_from_plugins_are_problems_naming_the_plugin(agentgov_plugins: PluginManager) -> None:
    class Broken:
        @hookimpl
        def agentgov_mask_patterns(self) -> list[tuple[str, str]]:
            return [("email", "x@y"), ("bad", "([a"), ("fine", "SECRET-[0-9]+"), ("odd",)]  # type: ignore[list-item]

    class Wrong:
        @hookimpl
        def agentgov_mask_patterns(self) -> str:
            return "SECRET"

    agentgov_plugins.add(Broken(), "broken")
    agentgov_plugins.add(Wrong(), "wrong")
    masker = build_masker(None, agentgov_plugins)
    assert masker.text("SECRET-42 and a@example.com") == "[fine] and a***@example.com"
    problems = [str(p) for p in agentgov_plugins.problems]
    assert "plugin 'broken', hook agentgov_mask_patterns: mask pattern name 'email' is already taken" in problems
    assert any(p.startswith("plugin 'broken', hook agentgov_mask_patterns: mask pattern 'bad': invalid regular expression") for p in problems)
    assert any(p.startswith("plugin 'broken', hook agentgov_mask_patterns: returned tuple ('odd',)") for p in problems)
    assert any(p.startswith("plugin 'wrong', hook agentgov_mask_patterns: returned str 'SECRET'") for p in problems)


def test_a_configured_home_masks_with_the_configured_and_the_plugin_patterns(agentgov_plugins: PluginManager) -> None:
    Path("agentgov.toml").write_text('[masking]\npatterns = { employee-id = "EMP-[0-9]{6}" }\n')
    agentgov_plugins.add(IbanPlugin(), "iban")
    home = Home.configured(load_config(), agentgov_plugins)
    home.audit_log.append(actor="a", action="x", subject="s", payload={"note": "EMP-123456 paid GB29NWBK60161331926819"})
    assert next(home.audit_log.records()).payload == {"note": "[employee-id] paid [iban]"}
