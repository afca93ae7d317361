"""The detection rules, one kind at a time, and the look-alikes they must leave alone."""

from __future__ import annotations

import pytest
from agentgov_pii_policy.detect import find_pii, iban_valid, luhn_valid, mask, strings


def kinds(text: str, allow: tuple[str, ...] = ()) -> list[str]:
    return [f.kind for f in find_pii(text, allow)]


@pytest.mark.parametrize("text", ["write to jane.doe@example.com", "<j_doe+support@mail.example.co.uk>", "A@B.IO"])
def test_finds_email_addresses(text: str) -> None:
    assert kinds(text) == ["email"]


@pytest.mark.parametrize(
    "text",
    [
        "+44 20 7946 0958",  # UK, international
        "+1 (415) 555-0100",  # US, international
        "+4915112345678",  # German mobile, no spaces
        "(415) 555-0100",  # US national
        "415.555.0100",
        "030 1234567",  # German national, trunk prefix 0
        "06 12 34 56 78",  # French national
        "020-7946-0958",
    ],
)
def test_finds_phone_numbers(text: str) -> None:
    assert kinds(f"call me on {text}.") == ["phone"]


@pytest.mark.parametrize("number", ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"])
def test_finds_card_numbers_that_pass_luhn(number: str) -> None:
    assert kinds(f"card {number}") == ["card"]


def test_a_card_like_number_failing_luhn_is_not_a_card() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert kinds("order 4111 1111 1111 1112") == []


@pytest.mark.parametrize("iban", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"])
def test_finds_ibans_that_pass_mod_97(iban: str) -> None:
    assert kinds(f"pay to {iban} today") == ["iban"]


def test_an_iban_with_a_wrong_check_digit_is_not_an_iban() -> None:
    assert not iban_valid("DE88370400440532013000")
    assert "iban" not in kinds("DE88370400440532013000")


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24 10:30",
        "confidence 0.92, amount 1234.56 EUR",
        "ticket #4411-2233, order 123456789",
        "version 1.2.3",
        "{'action': 'refund', 'confidence': 0.92}",
        "user@localhost",  # no top-level domain
    ],
)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert kinds(text) == []


def test_the_digits_of_an_iban_or_card_are_not_also_a_phone_number() -> None:
    assert kinds("IBAN DE89 3704 0044 0532 0130 00 or card 4111111111111111") == ["iban", "card"]


def test_finds_every_kind_in_order() -> None:
    text = "jane@example.com, +44 20 7946 0958, 4111 1111 1111 1111, GB82WEST12345698765432"
    assert kinds(text) == ["email", "phone", "card", "iban"]


def test_allowed_kinds_are_ignored() -> None:
    assert kinds("jane@example.com or +44 20 7946 0958", allow=("email",)) == ["phone"]


def test_an_unknown_allowed_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        find_pii("x", allow=("postcode",))


def test_masks_never_show_the_value() -> None:
    assert mask("email", "jane.doe@example.com") == "j***@***.com"
    assert mask("card", "4111 1111 1111 1111") == "************1111"
    assert mask("phone", "+44 20 7946 0958") == "**********58"
    assert mask("iban", "DE89 3704 0044 0532 0130 00") == "DE** **** 00"
    for found in find_pii("jane.doe@example.com +44 20 7946 0958 DE89370400440532013000"):
        assert "doe" not in found.masked and "7946" not in found.masked and "3704" not in found.masked


def test_strings_walks_a_json_response_with_paths() -> None:
    response = {"action": "reply", "reply": {"lines": ["hi", "call 4111111111111111"]}, "card": 4111111111111111, "ok": True}
    assert list(strings(response)) == [
        ("$.action", "reply"),
        ("$.reply.lines[0]", "hi"),
        ("$.reply.lines[1]", "call 4111111111111111"),
        ("$.card", "4111111111111111"),
    ]
