"""Masking values that look like credentials or personal data.

:func:`agentgov.core.audit.redact` hides the values of keys named like
secrets; a :class:`Masker` also looks inside the values: e-mail addresses,
phone numbers, payment card numbers (Luhn-checked), bearer tokens, common API
key shapes and passwords in URIs. Only the matching part is replaced, so a
record stays readable: ``j***@example.com``, ``Bearer ***``, ``[card ****4242]``.

Fields named in ``safe_fields`` are never masked, at any depth: who did it,
which agent and version, ids and hashes, so history and lookups keep working.
The patterns are compiled once; :func:`build_masker` adds those configured in
``agentgov.toml`` (``[masking] patterns``) and those plugins hand back from
``agentgov_mask_patterns``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import InvalidValue

if TYPE_CHECKING:
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager

# Exact key names (or the last dotted part of a key, as in ``agentgov.lineage.registered_by``).
DEFAULT_SAFE_FIELDS = frozenset(
    {"actor", "subject", "agent", "name", "version", "id", "decision_id", "hash", "prev", "seq",
     "config_hash", "registered_by", "approver", "accepted", "accepted_by", "at", "time",
     "aliases_before", "aliases_after", "stage_updates", "owners"}
)
_SAFE_SUFFIXES = ("_id", "_hash", "sha256", "md5")
SECRET_GROUP = "secret"


@dataclass(frozen=True)
class MaskPattern:
    """A named, compiled pattern and what replaces each match."""

    name: str
    regex: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]


def _keep_prefix(mask: str = "***") -> Callable[[re.Match[str]], str]:
    """Keep group 1 (a scheme, a key prefix, ``Bearer ``), mask the rest; keep group 3 if any."""

    def replace(match: re.Match[str]) -> str:
        tail = match.group(3) if match.re.groups >= 3 else ""
        return f"{match.group(1)}{mask}{tail or ''}"

    return replace


def _email(match: re.Match[str]) -> str:
    return f"{match.group(1)}***@{match.group(2)}"


def _basic(match: re.Match[str]) -> str:
    """``Basic <base64 of user:password>``; English ("basic validation") does not decode to that."""
    import base64
    import binascii

    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return match.group(0)
    return f"{match.group(1)}***" if ":" in decoded and decoded.isprintable() else match.group(0)


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = int(char)
        if position % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not luhn(digits):
        return match.group(0)
    return f"[card ****{digits[-4:]}]"


def _phone(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return "[phone]" if 7 <= digits <= 15 else match.group(0)


def _tag(name: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if SECRET_GROUP in match.re.groupindex and match.group(SECRET_GROUP) is not None:
            start, end = match.span(SECRET_GROUP)
            offset = match.start()
            whole = match.group(0)
            return f"{whole[: start - offset]}[{name}]{whole[end - offset:]}"
        return f"[{name}]"

    return replace


# Order matters: a password in a URI is masked before the e-mail pattern could see "user:pw@host".
BUILTIN_PATTERNS: tuple[MaskPattern, ...] = (
    MaskPattern("uri-password", re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)"), _keep_prefix()),
    MaskPattern("bearer", re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), _keep_prefix()),
    MaskPattern("basic", re.compile(r"(?i)(\bbasic\s+)([A-Za-z0-9+/]{8,}={0,2})(?![\w+/=])"), _basic),
    MaskPattern(
        "api-key",
        re.compile(
            r"\b(sk-(?:proj-|live-|test-|ant-)?|rk_live_|sk_live_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|xox[abprs]-|AIza)"
            r"(?=[A-Za-z_\-]*\d)[A-Za-z0-9_\-]{16,}"  # keys carry digits; a name like sk-router-production does not
            r"|\b((?:AKIA|ASIA)[0-9A-Z]{16})\b"
        ),
        lambda m: f"{m.group(1)}***" if m.group(1) else f"{m.group(2)[:4]}***",
    ),
    MaskPattern(
        "email",
        re.compile(r"(?<![\w.+%-])([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![\w-])"),
        _email,
    ),
    # Cards start with 2-6 (Mastercard 2-series, Amex, Visa, Mastercard, Discover); epoch milliseconds start with 1.
    MaskPattern("card", re.compile(r"(?<![\w.-])[2-6]\d(?:[ -]?\d){11,17}(?![\w.-])"), _card),
    MaskPattern(
        "phone",
        re.compile(
            r"(?<![\w+])\+\d{1,3}[ -]?(?:\(\d{1,4}\)[ -]?)?\d{1,4}(?:[ -]?\d{2,4}){1,4}(?![\w.])"
            r"|(?<![\w(])\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?![\w])"
            r"|(?<![\w.-])\d{3}[.-]\d{3}[.-]\d{4}(?![\w.-])"
        ),
        _phone,
    ),
)
BUILTIN_NAMES = frozenset(p.name for p in BUILTIN_PATTERNS)


def compile_pattern(name: str, regex: str) -> MaskPattern:
    """A custom pattern: the match (or its ``(?P<secret>...)`` group) becomes ``[name]``."""
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise InvalidValue(f"mask pattern {name!r}: invalid regular expression {regex!r}: {exc}") from None
    if compiled.match(""):
        raise InvalidValue(f"mask pattern {name!r}: {regex!r} matches the empty string")
    return MaskPattern(name, compiled, _tag(name))


class Masker:
    """Masks credential- and personal-data-looking parts of strings in nested values."""

    def __init__(self, patterns: Iterable[MaskPattern] = BUILTIN_PATTERNS, safe_fields: Iterable[str] = DEFAULT_SAFE_FIELDS) -> None:
        self.patterns = tuple(patterns)
        self.safe_fields = frozenset(safe_fields)

    def is_safe(self, key: str) -> bool:
        tail = key.rpartition(".")[2]
        return key in self.safe_fields or tail in self.safe_fields or tail.endswith(_SAFE_SUFFIXES)

    def text(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.regex.sub(pattern.replace, text)
        return text

    def value(self, value: Any) -> Any:
        """A copy of ``value`` with every unsafe string masked; keys are kept as they are."""
        if isinstance(value, str):
            return self.text(value) if len(value) >= 6 else value
        if isinstance(value, Mapping):
            return {k: (v if self.is_safe(str(k)) else self.value(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


DEFAULT_MASKER = Masker()


def build_masker(config: Config | None = None, plugins: PluginManager | None = None) -> Masker:
    """The built-in patterns, with those of ``[masking] patterns`` and of plugins.

    A configured pattern with a built-in's name replaces it (an empty regex
    turns it off); plugin patterns only add names nobody else uses.
    """
    patterns: dict[str, MaskPattern | None] = {p.name: p for p in BUILTIN_PATTERNS}
    safe = set(DEFAULT_SAFE_FIELDS)
    if config is not None:
        safe.update(config.mask_safe_fields)
        for name, regex in config.mask_patterns.items():
            patterns[name] = compile_pattern(name, regex) if regex else None
    if plugins is not None:
        for _plugin, name, regex in plugins.mask_patterns(taken=set(patterns)):
            patterns[name] = compile_pattern(name, regex)
    return Masker([p for p in patterns.values() if p is not None], safe)
