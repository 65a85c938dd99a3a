"""The `pii` guardrail: emails, phone numbers, credit cards and IBANs, found by pattern and
checksum, masked as `[EMAIL]`, `[PHONE]`, `[CREDIT_CARD]`, `[IBAN]` (or blocked).

    email        local@domain.tld                               (only when the text has "@")
    iban         2 letters, 2 digits, 11-30 letters/digits, plain or in groups of 4 → mod 97
    digit runs   digits joined by spaces, dashes or parentheses, an optional leading "+":
                   13-19 digits passing Luhn        → credit card
                   otherwise 7-15 digits            → phone (E.164 has at most 15)
                   anything else (a 16-digit number failing Luhn, a year, an ISO date) stays

Checksums keep order numbers and timestamps from being masked as cards or IBANs. Pattern
matching misses much (docs/guardrails.md lists it): names, addresses, phones written with
dots or words, obfuscated emails ("a at b dot com"), IBANs spaced other than by 4.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..config.content import GuardrailConfig
from .base import TextGuardrail

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b")
# Taken whole: not preceded by a word character, "+" or a decimal point (3.14159265).
_DIGITS = re.compile(r"(?<![\w+.,])\+?\(?\d(?:[ ()-]{0,2}\d){5,22}\)?(?![\w])")
_NON_DIGIT = re.compile(r"\D")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # an ISO date has 8 digits, like a short phone


def luhn(digits: str) -> bool:
    """The credit card check digit (ISO/IEC 7812): doubles every second digit from the right."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if i % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616: the first four characters moved to the end, letters as 10-35, mod 97 is 1."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


class PiiGuardrail(TextGuardrail):
    __slots__ = ("_card", "_email", "_iban", "_phone")

    def __init__(self, config: GuardrailConfig) -> None:
        super().__init__(config)
        entities = set(config.entities)
        self._email = "email" in entities
        self._iban = "iban" in entities
        self._card = "credit_card" in entities
        self._phone = "phone" in entities

    def mask(self, text: str) -> str:
        masked = text
        if self._email and "@" in masked:
            masked = _sub(_EMAIL, lambda _s: "[EMAIL]", masked)
        if self._iban:
            masked = _sub(_IBAN, lambda s: "[IBAN]" if iban_valid(s) else None, masked)
        if self._card or self._phone:
            masked = _sub(_DIGITS, self._number, masked)
        return text if masked == text else masked

    def _number(self, run: str) -> str | None:
        if _DATE.fullmatch(run):
            return None
        digits = _NON_DIGIT.sub("", run)
        if self._card and 13 <= len(digits) <= 19 and luhn(digits):
            return "[CREDIT_CARD]"
        if self._phone and 7 <= len(digits) <= 15:
            return "[PHONE]"
        return None


def _sub(pattern: re.Pattern[str], label: Callable[[str], str | None], text: str) -> str:
    """`text` with each match replaced by `label(match)`, or kept when that says None."""

    def replace(match: re.Match[str]) -> str:
        found = match.group()
        return label(found) or found

    masked, count = pattern.subn(replace, text)
    return masked if count else text
