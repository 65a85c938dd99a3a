"""The `pii` guardrail: emails, phone numbers, credit cards and IBANs, found by pattern and
checksum, masked as `[EMAIL]`, `[PHONE]`, `[CREDIT_CARD]`, `[IBAN]` (or blocked).

    email        local@domain.tld                               (only when the text has "@")
    iban         2 letters, 2 digits, 11-30 letters/digits, plain or in groups of 4 → mod 97
    digit runs   digits joined by spaces, dashes or parentheses, an optional leading "+":
                   13-19 digits passing Luhn        → credit card
                   otherwise 7-15 digits            → phone (E.164 has at most 15)
                   anything else (a 16-digit number failing Luhn, a year, an ISO date) stays

Checksums keep order numbers and timestamps from being masked as cards or IBANs. Speed: a
pattern without a literal start makes Python's `re` try every position (~20 ns a character, so
~400 µs for a 4 KB prompt), so the scan is driven by cheap C-level searches instead: every "@"
(`str.find`) anchors an email, every digit (found in a translated byte copy) anchors an IBAN or
a number, and the patterns only `match` there. Pattern
matching misses much (docs/guardrails.md lists it): names, addresses, phones written with
dots or words, obfuscated emails ("a at b dot com"), IBANs spaced other than by 4.
"""

from __future__ import annotations

import re

from ..config.content import GuardrailConfig
from .base import TextGuardrail

# Matched at an "@": the domain; the local part is walked back from it (at most 64 chars).
_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
# Matched two characters before a digit (the IBAN's check digits).
_IBAN = re.compile(
    r"[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)", re.ASCII
)
# Matched at a digit: the whole run of digits and separators.
_DIGITS = re.compile(r"\d(?:[ ()-]{0,2}\d){5,22}\)?", re.ASCII)  # ASCII: Luhn reads 0-9
_NON_DIGIT = re.compile(r"\D", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # an ISO date has 8 digits, like a short phone
# One byte per character (latin-1, "?" for the rest) with every digit turned into NUL.
_MARK_DIGITS = bytes.maketrans(b"0123456789\0", b"\0" * 10 + b"\1")
_NOT_BEFORE = frozenset("_+.,")  # nor a letter or digit: the match would start mid-word


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


def _free_before(text: str, start: int) -> bool:
    if start == 0:
        return True
    char = text[start - 1]
    return not (char.isalnum() or char in _NOT_BEFORE)


def _free_after(text: str, end: int) -> bool:
    return end == len(text) or not (text[end].isalnum() or text[end] == "_")


Span = tuple[int, int, str]


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
        spans: list[Span] = []
        if self._email and "@" in text:
            spans.extend(_emails(text))
        if self._iban or self._card or self._phone:
            spans.extend(self._numbers(text))
        if not spans:
            return text
        spans.sort()
        pieces: list[str] = []
        done = 0
        for start, end, label in spans:
            if start >= done:  # an email's digits were already masked with it
                pieces += (text[done:start], label)
                done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def _numbers(self, text: str) -> list[Span]:
        marks = text.encode("latin-1", "replace").translate(_MARK_DIGITS)
        spans: list[Span] = []
        pos = marks.find(0)
        while pos >= 0:
            end = pos + 1
            iban = _IBAN.match(text, pos - 2) if self._iban and pos >= 2 else None
            if iban and _free_before(text, pos - 2) and _free_after(text, iban.end()):
                end = iban.end()
                if iban_valid(iban.group()):
                    spans.append((pos - 2, end, "[IBAN]"))
            elif self._card or self._phone:
                run = _DIGITS.match(text, pos)
                if run is not None:
                    end = run.end()
                    start = pos - 1 if pos and text[pos - 1] in "+(" else pos
                    label = self._number(text[start:end])
                    if label and _free_before(text, start) and _free_after(text, end):
                        spans.append((start, end, label))
            pos = marks.find(0, end)
        return spans

    def _number(self, run: str) -> str | None:
        if _DATE.fullmatch(run):
            return None
        digits = _NON_DIGIT.sub("", run)
        if self._card and 13 <= len(digits) <= 19 and luhn(digits):
            return "[CREDIT_CARD]"
        if self._phone and 7 <= len(digits) <= 15:
            return "[PHONE]"
        return None


def _emails(text: str) -> list[Span]:
    spans: list[Span] = []
    at = text.find("@")
    while at >= 0:
        domain = _DOMAIN.match(text, at)
        start = at
        if domain is not None:
            floor = max(0, at - 64)
            while start > floor and text[start - 1] in _LOCAL_CHARS:
                start -= 1
        if domain is not None and start < at:
            spans.append((start, domain.end(), "[EMAIL]"))
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)
    return spans
