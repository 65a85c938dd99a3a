"""The `pii` guardrail's detection: checksums keep look-alike numbers unmasked."""

from __future__ import annotations

import pytest

from sluicegate.config.content import GuardrailConfig
from sluicegate.errors import ContentFiltered
from sluicegate.guardrails.pii import PiiGuardrail, iban_valid, luhn

ALL = ["email", "phone", "credit_card", "iban"]


def pii(action: str = "mask", entities: list[str] = ALL) -> PiiGuardrail:
    return PiiGuardrail(
        GuardrailConfig.model_validate(
            {"name": "p", "type": "pii", "action": action, "entities": entities}
        )
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail bob.smith@example.co.uk now", "mail [EMAIL] now"),
        ("card 4111 1111 1111 1111 ok", "card [CREDIT_CARD] ok"),
        ("card 4111-1111-1111-1111.", "card [CREDIT_CARD]."),
        ("amex 378282246310005", "amex [CREDIT_CARD]"),
        ("call +1 (555) 123-4567 today", "call [PHONE] today"),
        ("call 555-123-4567.", "call [PHONE]."),
        ("uk +44 20 7946 0958", "uk [PHONE]"),
        ("iban DE89 3704 0044 0532 0130 00 here", "iban [IBAN] here"),
        ("GB82WEST12345698765432", "[IBAN]"),
    ],
)
def test_each_entity_is_masked_with_its_label(text: str, masked: str) -> None:
    assert pii().mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 failed",  # 16 digits failing Luhn: not a card, too long a phone
        "bad DE89370400440532013001",  # mod 97 fails
        "pi is 3.14159265, year 2024, on 2024-01-05 at 12:30",
        "1,234,567 units, version 1.2.3, room 42",
        "no personal data at all",
    ],
)
def test_look_alikes_stay_as_they_are(text: str) -> None:
    guardrail = pii()
    assert guardrail.mask(text) is text
    assert not guardrail.matches(text)


def test_only_the_configured_entities_are_masked() -> None:
    text = "bob@example.com 555-123-4567"
    assert pii(entities=["email"]).mask(text) == "[EMAIL] 555-123-4567"
    assert pii(entities=["phone"]).mask(text) == "bob@example.com [PHONE]"


def test_block_raises_and_names_the_guardrail() -> None:
    texts = ["fine", "reach me at bob@example.com"]
    with pytest.raises(ContentFiltered) as caught:
        pii("block").check(texts)
    assert caught.value.guardrail == "p"
    assert "bob" not in caught.value.message
    assert texts == ["fine", "reach me at bob@example.com"]


def test_mask_replaces_only_the_texts_that_matched() -> None:
    texts = ["fine", "bob@example.com"]
    first = texts[0]
    assert pii().check(texts) is True
    assert texts == ["fine", "[EMAIL]"] and texts[0] is first
    assert pii().check(["nothing"]) is False


def test_checksums() -> None:
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert luhn("79927398713")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE89370400440532013001")
    assert not iban_valid("DE89")  # too short to be an IBAN
