"""Finding personal data in text: e-mail addresses, phone numbers, payment cards, IBANs.

Pure functions, no agentgov import, so the rules can be tested in
milliseconds. Card numbers must pass the Luhn check and IBANs the ISO 13616
mod-97 check, which keeps order numbers and dates from being reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

KINDS = {
    "email": "e-mail address",
    "iban": "IBAN",
    "card": "payment card number",
    "phone": "phone number",
}

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
_CARD = re.compile(r"(?<![\d+])\d(?:[ -]?\d){12,18}(?!\d)")
_PHONE = re.compile(
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?!\d)"  # international: +44 20 7946 0958, +1 (415) 555-0100
    r"|(?<![\d+])\(\d{3}\) ?\d{3}[ .-]\d{4}(?!\d)"  # North American: (415) 555-0100
    r"|(?<![\d+.-])\d{3}[ .-]\d{3}[ .-]\d{4}(?![\d-]|\.\d)"  # North American: 415-555-0100
    r"|(?<![\d+.-])0\d{1,4}(?:[ /.-]?\d{2,8}){1,4}(?![\d-]|\.\d)"  # national, trunk prefix 0: 030 1234567, 06 12 34 56 78
)


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind, where it is, and a masked form safe to show."""

    kind: str
    start: int
    end: int
    masked: str

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    text = candidate.replace(" ", "")
    if not 15 <= len(text) <= 34:
        return False
    rearranged = text[4:] + text[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def mask(kind: str, value: str) -> str:
    """A form that says what was found without disclosing it."""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    characters = [c for c in value if c.isalnum()]
    if kind == "iban":
        return f"{''.join(characters[:2])}** **** {''.join(characters[-2:])}"
    keep = 4 if kind == "card" else 2
    return "*" * (len(characters) - keep) + "".join(characters[-keep:])


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _phone_like(value: str) -> bool:
    digits = _digits(value)
    if value.startswith("+"):
        return 8 <= len(digits) <= 15
    if value.startswith("0"):
        return 9 <= len(digits) <= 12
    return len(digits) == 10


def find_pii(text: str, allow: Iterable[str] = ()) -> list[Finding]:
    """Every piece of personal data in ``text``, in order, except the kinds in ``allow``."""
    allowed = set(allow)
    unknown = allowed - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind(s) {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
    found: list[Finding] = []
    # Each detector sees the text with earlier findings blanked out, so the digits
    # of an IBAN or a card number are never reported a second time as a phone number.
    remaining = text
    for kind, pattern, valid in (
        ("email", _EMAIL, None),
        ("iban", _IBAN, iban_valid),
        ("card", _CARD, lambda v: luhn_valid(_digits(v))),
        ("phone", _PHONE, _phone_like),
    ):
        for match in pattern.finditer(remaining):
            value = match.group()
            if valid is not None and not valid(value):
                continue
            remaining = remaining[: match.start()] + " " * len(value) + remaining[match.end() :]
            if kind not in allowed:
                found.append(Finding(kind, match.start(), match.end(), mask(kind, value)))
    return sorted(found, key=lambda f: f.start)


def strings(value: object, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every string (and long integer) in a JSON-like response, with its path like ``$.reply.body``."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        yield path, str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")
